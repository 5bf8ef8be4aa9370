import { AdamW, clipGradNorm, gradNorm } from "../../src/ops/adamw.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { assertClose, randn, setupGpu } from "../_util.ts";
import { assertEquals } from "../_assert.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { setStagedLoads, stagedLoadsActive } from "../../src/engine/staged_loads.ts";
import { adamWRefInit, adamWRefStep, globalNormRef } from "../ref/adamw.ts";

await setupGpu();
const ADAM = { atol: 1e-6, rtol: 1e-6 };
const NORM = { atol: 0, rtol: 2e-6 };

// Odd sizes take the scalar kernel, multiples of 4 the vec4 one.
const SHAPES = [[7, 13], [257, 129], [5], [33, 64]];

/** Gives `p` a fresh persistent gradient holding `g`. */
function setGrad(p: Tensor, g: Float32Array): void {
  p.grad?.dispose();
  p.grad = Tensor.from(g, p.shape, "f32", `${p.name}.grad`).keep();
}

async function checkAdam(opts: { wd: number[]; scale: number | null; lrs: number[] }) {
  const params = SHAPES.map((s, k) => Tensor.from(randn(s.reduce((a, b) => a * b), 100 + k), s).keep());
  const refs = await Promise.all(params.map(async (p) => adamWRefInit(await p.read())));
  const opt = new AdamW(params.map((param, k) => ({ param, weightDecay: opts.wd[k] })), {
    lr: 1e-2,
    betas: [0.9, 0.98],
    eps: 1e-6,
  });
  const scaleT = opts.scale === null ? null : Tensor.from([opts.scale], [1]).keep();
  opts.lrs.forEach((lr, step) => {
    params.forEach((p, k) => {
      // Large and tiny gradients both occur so the eps and bias-correction terms matter.
      const g = randn(p.size, 1000 * step + k, step === 1 ? 1e-3 : 3);
      setGrad(p, g);
      adamWRefStep(refs[k], g.map((x) => x * (opts.scale ?? 1)), lr, opts.wd[k], 0.9, 0.98, 1e-6);
    });
    opt.step(lr, scaleT);
  });
  for (let k = 0; k < params.length; k++) {
    const { m, v } = opt.moments(params[k]);
    const [p, mm, vv] = await readAll([params[k], m, v]);
    assertClose(p, refs[k].p, ADAM, `param ${k}`);
    assertClose(mm, refs[k].m, ADAM, `m ${k}`);
    assertClose(vv, refs[k].v, { atol: 1e-9, rtol: 1e-6 }, `v ${k}`);
  }
  if (opt.stepCount !== opts.lrs.length) throw new Error(`stepCount ${opt.stepCount}`);
  opt.zeroGrad();
  if (params.some((p) => p.grad !== null)) throw new Error("zeroGrad left a gradient");
  opt.dispose();
  params.forEach((p) => p.dispose());
  scaleT?.dispose();
}

Deno.test("AdamW: 3 steps match the float64 closed form, no weight decay", async () => {
  await checkAdam({ wd: [0, 0, 0, 0], scale: null, lrs: [1e-2, 1e-2, 1e-2] });
});

Deno.test("AdamW: 3 steps with weight decay and a changing learning rate", async () => {
  await checkAdam({ wd: [0.01, 0.3, 0, 0.1], scale: null, lrs: [1e-2, 5e-3, 2e-2] });
});

Deno.test("AdamW: gradScale multiplies every gradient inside the kernel", async () => {
  await checkAdam({ wd: [0.01, 0.01, 0, 0.01], scale: 0.37, lrs: [1e-2, 1e-2, 1e-2] });
});

Deno.test("AdamW: a parameter without a gradient is skipped and keeps its own step count", async () => {
  const a = Tensor.from(randn(10, 1), [10]).keep(), b = Tensor.from(randn(10, 2), [10]).keep();
  const ra = adamWRefInit(await a.read()), rb = adamWRefInit(await b.read());
  const opt = new AdamW([{ param: a, weightDecay: 0.1 }, { param: b, weightDecay: 0.1 }], { lr: 0.1 });
  const ga = randn(10, 3), gb = randn(10, 4);
  setGrad(a, ga);
  opt.step();
  adamWRefStep(ra, ga, 0.1, 0.1);
  setGrad(b, gb);
  opt.step();
  adamWRefStep(ra, ga, 0.1, 0.1);
  adamWRefStep(rb, gb, 0.1, 0.1); // b's first step: t = 1
  const [pa, pb] = await readAll([a, b]);
  assertClose(pa, ra.p, ADAM, "a");
  assertClose(pb, rb.p, ADAM, "b");
  opt.zeroGrad();
  opt.dispose();
  a.dispose();
  b.dispose();
});

for (const staged of ["auto", "off"] as const) {
  // auto on lavapipe: tensors of 64 KiB and more are read from staged copies, 65536 elements per workgroup
  // (300_004: five workgroups, the last one short); off: buffer loads, 8192 per workgroup.
  Deno.test(`gradNorm: global L2 norm matches float64 over tensors of many sizes (staged loads ${staged})`, async () => {
    setStagedLoads(staged);
    try {
      await tidy(async () => {
        const data = [1, 7 * 13, 257 * 129, 100_003, 3 * 5 * 17 * 33, 100_004, 12_288, 300_004].map((n, k) =>
          randn(n, 50 + k, 0.1 + k)
        );
        const { result: norm, staged: stagedLabels } = await traceDispatches(() =>
          gradNorm(data.map((d) => Tensor.from(d, [d.length])))
        );
        assertClose(await norm.read(), [globalNormRef(data)], NORM, "norm");
        assertEquals(
          stagedLabels.includes("adamw.sumsq_partial4+staged"),
          staged === "auto" && stagedLoadsActive(),
          stagedLabels.join(),
        );
        assertClose(await gradNorm([Tensor.from([3, 4], [2])]).read(), [5], { atol: 0, rtol: 0 }, "3-4-5");
      });
    } finally {
      setStagedLoads("auto");
    }
  });
}

Deno.test("clipGradNorm: scale is 1 below the threshold and maxNorm/(norm+1e-6) above", async () => {
  await tidy(async () => {
    const sizes = [300, 7, 4097];
    const params = sizes.map((n) => Tensor.from(new Float32Array(n), [n]));
    const grads = sizes.map((n, k) => randn(n, 70 + k));
    params.forEach((p, k) => setGrad(p, grads[k]));
    params.push(Tensor.from([1], [1])); // a parameter without a gradient is ignored
    const ref = globalNormRef(grads);
    for (const maxNorm of [ref * 2, ref / 3, 1.0]) {
      const { norm, scale } = clipGradNorm(params, maxNorm);
      const [n, s] = await readAll([norm, scale]);
      assertClose(n, [ref], NORM, "norm");
      assertClose(s, [Math.min(1, maxNorm / (ref + 1e-6))], NORM, `scale at maxNorm ${maxNorm}`);
      if (maxNorm > ref && s[0] !== 1) throw new Error(`scale below the threshold is ${s[0]}, not 1`);
    }
    params.forEach((p) => p.grad?.dispose());
  });
});
