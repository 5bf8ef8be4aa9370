// Staged loads (src/engine/staged_loads.ts): the WGSL rewrite, and every op that uses it giving bitwise the
// buffer kernels' results at uneven shapes that span several texture rows (STAGE_WIDTH texels) and several
// workgroups, with the dispatch trace proving which path ran in each mode.
import {
  setStagedLoads,
  STAGE_WIDTH,
  stagedLoadsActive,
  stagedSource,
  stagedTextureBytes,
} from "../../src/engine/staged_loads.ts";
import { isLavapipe } from "../../src/engine/adapter.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { backward, noGrad } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { AdamW, clipGradNorm } from "../../src/ops/adamw.ts";
import { multiAdamActive, setMultiTensorAdamW } from "../../src/ops/adamw_multi.ts";
import { addLayerNorm, layerNorm } from "../../src/ops/layernorm.ts";
import { add, addInPlace, concatCols3, splitCols3, sumRows } from "../../src/ops/elementwise.ts";
import { geluBackward, geluForward } from "../../src/ops/gelu.ts";
import { dropout } from "../../src/ops/dropout.ts";
import { embedding } from "../../src/ops/embedding.ts";
import { attention, attentionUsesSubgroups } from "../../src/ops/attention.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { assertClose, randn, setupGpu } from "../_util.ts";
import { adamWRefInit, adamWRefStep, globalNormRef } from "../ref/adamw.ts";

await setupGpu();

const SRC = `
@group(0) @binding(0) var<storage, read> xs: array<vec4f>;   // (n) xs[i] in a comment
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;
fn f(i: u32) -> vec4f { return xs[idx[i]] + xs [i + 1u]; }
`;

Deno.test("stagedSource: the named vec4 buffers become textures read at (i mod W, i div W)", () => {
  const out = stagedSource(SRC, ["xs"]);
  assert(out.includes("@group(0) @binding(0) var xs_staged: texture_storage_2d<rgba32float, read>;"), out);
  assert(out.includes("_staged_xs(u32(idx[i])) + _staged_xs(u32(i + 1u))"), out);
  assert(out.includes(`vec2u(i % ${STAGE_WIDTH}u, i / ${STAGE_WIDTH}u)`), out);
  assert(out.includes("var<storage, read> idx: array<u32>"), "other bindings unchanged");
  assert(!/\bxs\b/.test(out), "no buffer access to xs is left");
  assertEquals(stagedSource(SRC, ["xs"]), out, "cached");
  assertThrows(() => stagedSource(SRC, ["out"]), Error, "not declared as var<storage, read>");
  assertThrows(() => stagedSource(SRC, ["idx"]), Error, "not declared as var<storage, read> array<vec4f>");
  assertThrows(
    () => stagedSource(SRC + "fn g() -> u32 { return arrayLength(&xs); }", ["xs"]),
    Error,
    "used other than as xs[index]",
  );
});

Deno.test("staged loads: auto mode stages on lavapipe only", () => {
  setStagedLoads("auto");
  assertEquals(stagedLoadsActive(), isLavapipe(gpu().adapterInfo));
  setStagedLoads("off");
  assert(!stagedLoadsActive());
  setStagedLoads("on");
  assert(stagedLoadsActive());
  setStagedLoads("auto");
});

/** Runs `fn` with staging off and then on for every input size; returns both results and the traces. */
async function bothPaths(fn: () => Promise<Float32Array[]>) {
  const run = async (mode: "off" | "on") => {
    setStagedLoads(mode, 0);
    try {
      const { result, labels, staged } = await traceDispatches(fn);
      return { result, labels, staged };
    } finally {
      setStagedLoads("auto");
    }
  };
  const plain = await run("off"), staged = await run("on");
  assertEquals(plain.staged, [], "nothing staged when off");
  // the same kernels ran (the staged forms of in-place kernels are their own entry points: *_io)
  const io = (ls: string[]) =>
    ls.map((l) =>
      l.replace("adamw.adamw_step4_io", "adamw.adamw_step4").replace(
        "elementwise.accumulate4_io",
        "elementwise.accumulate",
      )
    );
  assertEquals(io(staged.labels), plain.labels, "the same kernels ran");
  staged.result.forEach((a, i) => assertEquals(a, plain.result[i], `output ${i} bitwise equal`));
  return { plain, staged };
}

const ROWS = 1037, C = 36; // 9333 vec4s: 8 texture rows of 1040 and a short one; 37 workgroups of 256

Deno.test("staged loads: AdamW (adamw_step4_io) and the clipping norm equal the buffer kernels bitwise", async () => {
  const n = ROWS * C;
  const p0 = randn(n, 1), grads = [randn(n, 2), randn(n, 3), randn(n, 4)];
  setMultiTensorAdamW(false); // unstaged, the tensor keeps its own launches (adamw_step4, sumsq_partial4)
  const { staged } = await bothPaths(async () => {
    const p = Tensor.from(p0, [ROWS, C], "f32", "p").keep();
    const opt = new AdamW([{ param: p, weightDecay: 0.01 }], { lr: 1e-2 });
    const norms: Float32Array[] = [];
    try {
      for (const [s, g] of grads.entries()) {
        p.grad = Tensor.from(g, [ROWS, C], "f32", "g");
        await noGrad(() =>
          tidy(async () => {
            const { norm, scale } = clipGradNorm([p], 100);
            opt.step(undefined, s % 2 ? scale : null);
            norms.push((await norm.readF32()).slice());
          })
        );
        opt.zeroGrad();
      }
      const { m, v } = opt.moments(p);
      return [...(await readAll([p, m, v])) as Float32Array[], ...norms];
    } finally {
      opt.dispose();
      p.dispose();
    }
  }).finally(() => setMultiTensorAdamW(true));
  assert(staged.staged.includes("adamw.adamw_step4_io+staged"), staged.staged.join());
  assert(staged.staged.includes("adamw.sumsq_partial4+staged"), staged.staged.join());
  assert(stagedTextureBytes() >= STAGE_WIDTH * 9 * 16, "the staging textures are cached");
  // and the staged update against the float64 reference
  const ref = adamWRefInit(p0);
  for (const [s, g] of grads.entries()) {
    const scale = s % 2 ? Math.min(1, 100 / (globalNormRef([g]) + 1e-6)) : 1;
    adamWRefStep(ref, g.map((x) => x * scale), 1e-2, 0.01);
  }
  assertClose(staged.result[0], ref.p, { atol: 1e-5, rtol: 1e-4 }, "params vs float64 AdamW");
  assertClose(staged.result[3], [globalNormRef([grads[0]])], { atol: 1e-4, rtol: 1e-5 }, "norm");
});

Deno.test("staged loads: AdamW below the minimum size keeps the in-place buffer kernels", async () => {
  setStagedLoads("on"); // default minimum: 64 KiB
  try {
    const p = Tensor.from(randn(1000, 5), [1000], "f32", "p").keep();
    p.grad = Tensor.from(randn(1000, 6), [1000], "f32", "g");
    const opt = new AdamW([{ param: p, weightDecay: 0 }], { lr: 1e-3 });
    const { labels, staged } = await traceDispatches(async () => {
      opt.step();
      await gpu().sync();
    });
    assertEquals(labels, [multiAdamActive() ? "adamw.adamw_multi4" : "adamw.adamw_step4"]);
    assertEquals(staged, []);
    opt.dispose();
    p.dispose();
  } finally {
    setStagedLoads("auto");
  }
});

Deno.test("staged loads: LayerNorm and add+LayerNorm forward and backward equal the buffer kernels", async () => {
  const n = ROWS * C;
  const [x, y, w, b, g] = [randn(n, 7), randn(n, 8), randn(C, 9), randn(C, 10), randn(n, 11)];
  const { staged } = await bothPaths(() =>
    tidy(async () => {
      const xt = Tensor.from(x, [ROWS, C]), yt = Tensor.from(y, [ROWS, C]);
      const wt = Tensor.from(w, [C]), bt = Tensor.from(b, [C]);
      for (const t of [xt, yt, wt, bt]) t.requiresGrad = true;
      const ln = layerNorm(xt, wt, bt, 1e-5);
      const add = addLayerNorm(xt, yt, wt, bt, 1e-5);
      backward(ln, Tensor.from(g, [ROWS, C]));
      const lnGrads = [xt.grad!, wt.grad!, bt.grad!].map((t) => t);
      xt.grad = wt.grad = bt.grad = null;
      backward(add, Tensor.from(g, [ROWS, C]));
      return (await readAll([ln, add, ...lnGrads, xt.grad!, yt.grad!, wt.grad!, bt.grad!])) as Float32Array[];
    })
  );
  for (const k of ["forward", "add_forward", "backward_dx", "add_backward_dx"]) {
    assert(staged.staged.some((l) => l.startsWith(`layernorm.${k}`)), `${k}: ${staged.staged}`);
  }
  assert(staged.staged.includes("layernorm.backward_params+staged"), staged.staged.join());
});

Deno.test("staged loads: sumRows, splitCols3/concatCols3, GELU, dropout and the embedding backward", async () => {
  const n = ROWS * C * 3;
  const x = randn(n, 12), g = randn(n, 13), table = randn(50 * C, 14);
  const ids = Int32Array.from({ length: ROWS }, (_, i) => (i * 7) % 50);
  const { staged } = await bothPaths(() =>
    tidy(async () => {
      const xt = Tensor.from(x, [ROWS, 3 * C]), gt = Tensor.from(g, [ROWS, 3 * C]);
      const parts = splitCols3(xt, ["a", "b", "c"]);
      const joined = concatCols3([parts[2], parts[0], parts[1]]);
      const sums = sumRows(xt);
      const act = geluForward(xt), dact = geluBackward(gt, xt);
      const w = Tensor.from(table, [50, C]);
      w.requiresGrad = true;
      const drop = dropout(xt, 0.1, 1234);
      const xd = Tensor.from(x.subarray(0, ROWS * C), [ROWS, C]);
      xd.requiresGrad = true;
      const dropped = dropout(xd, 0.25, 99);
      backward(dropped, Tensor.from(g.subarray(0, ROWS * C), [ROWS, C]));
      const e = embedding(Tensor.from(ids, [ROWS], "i32"), w);
      backward(e, Tensor.from(g.subarray(0, ROWS * C), [ROWS, C]));
      return (await readAll([...parts, joined, sums, act, dact, drop, xd.grad!, w.grad!])) as Float32Array[];
    })
  );
  for (
    const l of [
      "elementwise.split_cols3",
      "elementwise.concat_cols3",
      "elementwise.sum_rows4_partial",
      "gelu.forward",
      "gelu.backward",
      "dropout.forward",
      "dropout.backward",
      "embedding.backward",
    ]
  ) assert(staged.staged.includes(`${l}+staged`), `${l}: ${staged.staged}`);
});

Deno.test("staged loads: add and the gradient accumulation (accumulate4_io) equal the buffer kernels", async () => {
  const n = ROWS * C;
  const [x, y] = [randn(n, 19), randn(n, 20)];
  const { staged } = await bothPaths(() =>
    tidy(async () => {
      const xt = Tensor.from(x, [ROWS, C]), yt = Tensor.from(y, [ROWS, C]);
      const sum = add(xt, yt);
      const acc = Tensor.from(x, [ROWS, C]);
      addInPlace(acc, yt, 0.37);
      addInPlace(acc, sum);
      return (await readAll([sum, acc])) as Float32Array[];
    })
  );
  assert(staged.staged.includes("elementwise.add4+staged"), staged.staged.join());
  assert(staged.staged.includes("elementwise.accumulate4_io+staged"), staged.staged.join());
});

Deno.test("staged loads: attention (D = 64) forward and backward equal the buffer kernels", async () => {
  // T = 70: two 64-row workgroups per (batch, head), the second mostly past T (its invocations return early).
  const B = 3, T = 70, H = 3, n = B * T * H * 64;
  const [q, k, v, g] = [randn(n, 15), randn(n, 16), randn(n, 17), randn(n, 18)];
  const mask = Float32Array.from({ length: B * T }, (_, i) => (i % T) < T - 5 * (i / T | 0) ? 1 : 0);
  const { staged } = await bothPaths(() =>
    tidy(async () => {
      const [qt, kt, vt] = [q, k, v].map((x) => Tensor.from(x, [B, T, H * 64]));
      for (const t of [qt, kt, vt]) t.requiresGrad = true;
      const out = attention(qt, kt, vt, Tensor.from(mask, [B, T]), H, { dropoutP: 0.1, seed: 7 });
      backward(out, Tensor.from(g, [B, T, H * 64]));
      return (await readAll([out, qt.grad!, kt.grad!, vt.grad!])) as Float32Array[];
    })
  );
  for (const l of ["attn_fwd64", "attn_bwd_dq64", "attn_bwd_dkv64"]) {
    const sg = attentionUsesSubgroups() ? "_sg" : ""; // the subgroup row loaders (attention_test.ts)
    assert(staged.staged.includes(`attention.${l}${sg}+staged`), `${l}: ${staged.staged}`);
  }
});

Deno.test("staged loads: inputs below the minimum size stay buffers", async () => {
  setStagedLoads("on", 1 << 20);
  try {
    const x = Tensor.from(randn(4096, 15), [64, 64]);
    const { labels, staged, result } = await traceDispatches(async () => await sumRows(x).readF32());
    assert(labels.includes("elementwise.sum_rows4_partial"), labels.join());
    assertEquals(staged, []);
    assertEquals(result.length, 64);
    x.dispose();
  } finally {
    setStagedLoads("auto");
  }
});
