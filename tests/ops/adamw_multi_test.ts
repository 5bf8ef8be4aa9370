// Multi-tensor AdamW and sum of squares (src/ops/adamw_multi.ts): many parameters of uneven sizes, some
// spanning several workgroups, give bitwise what the per-tensor kernels give, alone and next to staged
// tensors, with per-parameter weight decay and step counts inside one launch; the trace proves the path.
import { AdamW, clipGradNorm } from "../../src/ops/adamw.ts";
import { ADAM_SLOTS, multiAdamActive, setMultiTensorAdamW, SUMSQ_SLOTS } from "../../src/ops/adamw_multi.ts";
import { setStagedLoads } from "../../src/engine/staged_loads.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { noGrad } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { assert, assertEquals } from "../_assert.ts";
import { assertClose, randn, setupGpu } from "../_util.ts";
import { adamWRefInit, adamWRefStep, globalNormRef } from "../ref/adamw.ts";

await setupGpu();

// 13 vec4-sized tensors (3 launches of 6 slots, the last partly empty; 70004 spans 69 workgroups) and two
// odd sizes, which keep the scalar per-tensor kernels. 20000 floats (80 KB) is staged where staging is on.
const SIZES = [4, 1028, 70004, 8, 256, 1024, 20000, 12, 4096, 36, 64, 16, 5, 132, 7];
const VEC4 = SIZES.filter((n) => n % 4 === 0).length;

interface _Run {
  values: Float32Array[];
  labels: string[];
  staged: string[];
}

/** Four clipped AdamW steps over SIZES; parameter 3 has no gradient at step 1 (its step count lags). */
async function run(multi: boolean, staging: "on" | "off"): Promise<_Run> {
  setMultiTensorAdamW(multi);
  setStagedLoads(staging);
  try {
    const params = SIZES.map((n, k) => Tensor.from(randn(n, 10 + k), [n], "f32", `p${k}`).keep());
    const opt = new AdamW(params.map((param, k) => ({ param, weightDecay: k % 3 ? 0.01 : 0 })), {
      lr: 1e-2,
      betas: [0.9, 0.98],
      eps: 1e-6,
    });
    const norms: Tensor[] = [];
    const { labels, staged } = await traceDispatches(async () => {
      for (let step = 0; step < 4; step++) {
        params.forEach((p, k) => {
          p.grad?.dispose();
          p.grad = step === 1 && k === 3
            ? null
            : Tensor.from(randn(p.size, 100 * step + k, 2), [p.size]).keep();
        });
        noGrad(() =>
          tidy(() => {
            const { norm, scale } = clipGradNorm(params, 5);
            norms.push(norm.keep());
            opt.step(1e-2 / (step + 1), step % 2 ? scale : null);
          })
        );
      }
      await gpu().sync();
    });
    const moments = params.flatMap((p) => [opt.moments(p).m, opt.moments(p).v]);
    const values = (await readAll([...params, ...moments, ...norms])) as Float32Array[];
    opt.zeroGrad();
    opt.dispose();
    [...params, ...norms].forEach((t) => t.dispose());
    return { values, labels, staged };
  } finally {
    setMultiTensorAdamW(true);
    setStagedLoads("auto");
  }
}

const count = (labels: string[], l: string) => labels.filter((x) => x === l).length;

Deno.test("multi-tensor AdamW and clipping norm: bitwise the per-tensor kernels", async () => {
  assert(
    multiAdamActive(),
    "lavapipe has 32 storage buffers per stage: the multi-tensor launch must run here",
  );
  const plain = await run(false, "off");
  const multi = await run(true, "off");
  multi.values.forEach((a, i) => assertEquals(a, plain.values[i], `output ${i} bitwise equal`));
  // per step: one AdamW launch per 6 vec4 parameters with a gradient, one norm launch per 7 vec4 tensors
  assertEquals(count(plain.labels, "adamw.adamw_multi4"), 0);
  assertEquals(count(plain.labels, "adamw.adamw_step4"), VEC4 * 4 - 1);
  const adamLaunches = 3 * Math.ceil(VEC4 / ADAM_SLOTS) + Math.ceil((VEC4 - 1) / ADAM_SLOTS);
  assertEquals(count(multi.labels, "adamw.adamw_multi4"), adamLaunches);
  assertEquals(count(multi.labels, "adamw.adamw_step4"), 0);
  assertEquals(count(multi.labels, "adamw.adamw_step"), 2 * 4, "the odd sizes keep the scalar kernel");
  const normLaunches = 3 * Math.ceil(VEC4 / SUMSQ_SLOTS) + Math.ceil((VEC4 - 1) / SUMSQ_SLOTS);
  assertEquals(count(multi.labels, "adamw.sumsq_multi4"), normLaunches);
  assertEquals(count(multi.labels, "adamw.sumsq_partial4"), 0);
  // and the values are AdamW's: parameter 0 against the float64 closed form
  const ref = adamWRefInit(randn(SIZES[0], 10));
  for (let step = 0; step < 4; step++) {
    const g = randn(SIZES[0], 100 * step, 2);
    const grads = SIZES.map((
      n,
      k,
    ) => (step === 1 && k === 3 ? new Float32Array(0) : randn(n, 100 * step + k, 2)));
    const scale = step % 2 ? Math.min(1, 5 / (globalNormRef(grads) + 1e-6)) : 1;
    adamWRefStep(ref, g.map((x) => x * scale), 1e-2 / (step + 1), 0, 0.9, 0.98, 1e-6);
  }
  assertClose(multi.values[0], ref.p, { atol: 1e-6, rtol: 1e-5 }, "parameter 0 vs float64 AdamW");
});

Deno.test("multi-tensor AdamW next to staged tensors: the large ones staged, the rest batched, bitwise", async () => {
  const plain = await run(false, "off");
  const mixed = await run(true, "on");
  mixed.values.forEach((a, i) => assertEquals(a, plain.values[i], `output ${i} bitwise equal`));
  assert(mixed.staged.includes("adamw.adamw_step4_io+staged"), mixed.staged.join());
  assert(mixed.staged.includes("adamw.sumsq_partial4+staged"), mixed.staged.join());
  // the staged tensors (70004 and 20000 floats) are interleaved with the others; the rest still batch fully
  const small = VEC4 - 2;
  const launches = (slots: number) => 3 * Math.ceil(small / slots) + Math.ceil((small - 1) / slots);
  assertEquals(count(mixed.labels, "adamw.adamw_multi4"), launches(ADAM_SLOTS));
  assertEquals(count(mixed.labels, "adamw.sumsq_multi4"), launches(SUMSQ_SLOTS));
});
