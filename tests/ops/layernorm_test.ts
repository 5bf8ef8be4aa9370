import {
  addLayerNorm,
  layerNorm,
  setLayerNormColumnStaging,
  setLayerNormPath,
  setLayerNormWorkgroupSize,
} from "../../src/ops/layernorm.ts";
import { setStagedLoads, stagedInputNames } from "../../src/engine/staged_loads.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { assert, assertThrows } from "../_assert.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { backward } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { assertClose, dot, f64, finiteDiff, randn, setupGpu } from "../_util.ts";
import { layerNormBackwardRef, layerNormRef } from "../ref/layernorm.ts";

await setupGpu();

/** Forward tolerance: y is O(|w| + |b|) and computed from f32 inputs in f32. */
const FWD = { atol: 2e-5, rtol: 1e-5 };
/** Backward tolerance (dx, dweight, dbias vs the float64 analytic gradient). */
const BWD = { atol: 2e-5, rtol: 1e-4 };

interface Case {
  shape: number[];
  seed: number;
  scale?: number;
  offset?: number;
  eps?: number;
}

/** Runs forward + backward on the GPU and returns host copies. */
async function runGpu(x: Float32Array, w: Float32Array, b: Float32Array, g: Float32Array, c: Case) {
  return await tidy(async () => {
    const C = c.shape[c.shape.length - 1];
    const tx = Tensor.from(x, c.shape), tw = Tensor.from(w, [C]), tb = Tensor.from(b, [C]);
    tx.requiresGrad = tw.requiresGrad = tb.requiresGrad = true;
    const y = layerNorm(tx, tw, tb, c.eps ?? 1e-12);
    backward(y, Tensor.from(g, c.shape));
    const [yy, dx, dw, db] = await readAll([y, tx.grad!, tw.grad!, tb.grad!]);
    for (const t of [tx, tw, tb]) t.grad!.dispose();
    return { y: yy, dx, dw, db };
  });
}

function inputs(c: Case) {
  const C = c.shape[c.shape.length - 1];
  const n = c.shape.reduce((a, b) => a * b, 1);
  const x = randn(n, c.seed, c.scale ?? 1).map((v) => v + (c.offset ?? 0));
  const w = randn(C, c.seed + 1).map((v) => 1 + 0.5 * v);
  const b = randn(C, c.seed + 2, 0.5);
  const g = randn(n, c.seed + 3);
  return { C, x, w, b, g };
}

async function checkAgainstRef(c: Case, fwd = FWD, bwd = BWD) {
  const { C, x, w, b, g } = inputs(c);
  const eps = c.eps ?? 1e-12;
  const out = await runGpu(x, w, b, g, c);
  const what = `[${c.shape}] scale ${c.scale ?? 1} offset ${c.offset ?? 0}`;
  assertClose(out.y, layerNormRef(x, w, b, C, eps), fwd, `y ${what}`);
  const ref = layerNormBackwardRef(x, w, g, C, eps);
  assertClose(out.dx, ref.dx, bwd, `dx ${what}`);
  assertClose(out.dw, ref.dw, bwd, `dweight ${what}`);
  assertClose(out.db, ref.db, bwd, `dbias ${what}`);
}

Deno.test("layernorm: forward and backward match float64 at uneven shapes", async () => {
  await checkAgainstRef({ shape: [7, 13], seed: 10 });
  await checkAgainstRef({ shape: [257, 129], seed: 20 });
  await checkAgainstRef({ shape: [3, 5, 17, 33], seed: 30 });
  await checkAgainstRef({ shape: [1, 1000], seed: 40, eps: 1e-5 }); // one row, C not a multiple of 64
  await checkAgainstRef({ shape: [513, 65], seed: 50 }); // rows not a multiple of the row blocks
  await checkAgainstRef({ shape: [9, 1], seed: 60, eps: 1e-5 }); // C = 1: y = bias, dx = 0
});

Deno.test("layernorm: BERT shape 512×768 matches float64", async () => {
  await checkAgainstRef({ shape: [8, 64, 768], seed: 70 });
});

Deno.test("layernorm: both paths (one invocation or one workgroup per row) at every workgroup size match float64, forward and backward", async () => {
  try {
    for (const path of ["rows", "workgroup"] as const) {
      setLayerNormPath(path);
      for (const wg of [1, 32, 64, 256]) {
        setLayerNormWorkgroupSize(wg);
        const { labels } = await traceDispatches(() => checkAgainstRef({ shape: [37, 300], seed: 75 })); // vec4
        assert(
          labels.includes(path === "rows" ? "layernorm.forward_rows" : "layernorm.forward"),
          `${labels}`,
        );
        await checkAgainstRef({ shape: [5, 301], seed: 76 }); // scalar kernels
        await checkAgainstRef({ shape: [70, 13], seed: 78 }); // rows over several workgroups, C odd
      }
    }
  } finally {
    setLayerNormWorkgroupSize(null);
    setLayerNormPath("auto");
  }
});

Deno.test("layernorm: the forward path is chosen from the adapter (rows on CPU adapters), and bad names throw", async () => {
  const { labels } = await traceDispatches(() => checkAgainstRef({ shape: [9, 16], seed: 79 }));
  const kind = gpu().adapterInfo.isFallbackAdapter ? "_rows" : "";
  assert(labels.includes(`layernorm.forward${kind}`), `auto on ${gpu().describe().description}: ${labels}`);
  assert(
    labels.includes(`layernorm.backward_dx${kind}`),
    `auto on ${gpu().describe().description}: ${labels}`,
  );
  assertThrows(() => setLayerNormPath("columns" as "rows"), RangeError, "not auto, rows or workgroup");
});

Deno.test("layernorm: more than 65535 rows (2-D workgroup grid)", async () => {
  await checkAgainstRef({ shape: [70001, 4], seed: 77, eps: 1e-5 });
});

Deno.test("layernorm: large-magnitude inputs", async () => {
  // Large scale: the output is scale invariant, so the tolerances are the ordinary ones.
  await checkAgainstRef({ shape: [37, 300], seed: 80, scale: 1e4 });
  // A large common offset (|x| ≈ 1000, spread 1): the shifted sums keep y accurate to ~1e-5 even though
  // ulp(1000) = 6e-5. The backward's xhat uses the saved f32 mean (rounded to ulp(1000)/2), hence atol 1e-3.
  await checkAgainstRef({ shape: [37, 300], seed: 90, offset: 1000 }, { atol: 3e-5, rtol: 1e-5 }, {
    atol: 1e-3,
    rtol: 1e-3,
  });
  // A constant row: var = 0, rstd = 1/sqrt(eps), y = bias exactly.
  await tidy(async () => {
    const C = 77;
    const tx = Tensor.from(new Float32Array(2 * C).fill(123.456), [2, C]);
    const b = randn(C, 5);
    const y = await layerNorm(tx, Tensor.from(randn(C, 4), [C]), Tensor.from(b, [C]), 1e-12).read();
    assertClose(y, [...b, ...b], { atol: 0, rtol: 0 }, "constant row");
  });
});

Deno.test("layernorm: backward equals central finite differences of the float64 forward", async () => {
  for (const c of [{ shape: [7, 13], seed: 100, eps: 1e-5 }, { shape: [3, 70], seed: 110, eps: 1e-5 }]) {
    const { C, x, w, b, g } = inputs(c);
    const out = await runGpu(x, w, b, g, c);
    const loss = ([xx, ww, bb]: Float64Array[]) => dot(layerNormRef(xx, ww, bb, C, c.eps), g);
    const ins = [f64(x), f64(w), f64(b)];
    const tol = { atol: 1e-4, rtol: 1e-4 };
    assertClose(out.dx, finiteDiff(loss, ins, 0), tol, `dx vs FD [${c.shape}]`);
    assertClose(out.dw, finiteDiff(loss, ins, 1), tol, `dweight vs FD [${c.shape}]`);
    assertClose(out.db, finiteDiff(loss, ins, 2), tol, `dbias vs FD [${c.shape}]`);
  }
});

Deno.test("layernorm: backward is deterministic and saved tensors are released", async () => {
  const c = { shape: [100, 200], seed: 120 };
  const { x, w, b, g } = inputs(c);
  const before = gpu().memory().inUseBytes;
  const a = await runGpu(x, w, b, g, c);
  const a2 = await runGpu(x, w, b, g, c);
  for (const k of ["dx", "dw", "db"] as const) assertClose(a2[k], a[k], { atol: 0, rtol: 0 }, k);
  const after = gpu().memory().inUseBytes;
  if (after !== before) throw new Error(`GPU memory in use changed: ${before} -> ${after}`);
});

Deno.test("layernorm: zero rows give an empty output and zero dweight/dbias", async () => {
  const out = await runGpu(new Float32Array(0), randn(8, 1), randn(8, 2), new Float32Array(0), {
    shape: [0, 8],
    seed: 0,
  });
  if (out.y.length !== 0 || out.dx.length !== 0) throw new Error("expected empty outputs");
  assertClose(out.dw, new Float32Array(8), { atol: 0, rtol: 0 }, "dweight");
  assertClose(out.db, new Float32Array(8), { atol: 0, rtol: 0 }, "dbias");
});

Deno.test("layernorm: with staged rows, weight and bias are read through staged loads too, both paths, same values", async () => {
  const c: Case = { shape: [257, 128], seed: 900, eps: 1e-5 }; // 131 KB rows: above the staging minimum
  const { C, x, w, b, g } = inputs(c);
  /** Plain and add+LayerNorm forward and backward: every output, flattened. */
  const run = () =>
    tidy(async () => {
      const tx = Tensor.from(x, c.shape), tr = Tensor.from(g, c.shape);
      const tw = Tensor.from(w, [C]), tb = Tensor.from(b, [C]);
      for (const t of [tx, tr, tw, tb]) t.requiresGrad = true;
      const y1 = layerNorm(tx, tw, tb, 1e-5);
      const y2 = addLayerNorm(tx, tr, tw, tb, 1e-5);
      backward(y1, Tensor.from(g, c.shape));
      backward(y2, Tensor.from(x, c.shape));
      return await readAll([y1, y2, tx.grad!, tr.grad!, tw.grad!, tb.grad!]);
    });
  setStagedLoads("on");
  try {
    for (const path of ["rows", "workgroup"] as const) {
      setLayerNormPath(path);
      const kind = path === "rows" ? "_rows" : "";
      setLayerNormColumnStaging(false);
      const plain = await run();
      setLayerNormColumnStaging(true);
      const staged = await run();
      const names = (l: string) => stagedInputNames(`layernorm.${l}`) ?? [];
      assert(names(`forward${kind}`).includes("f4_w") && names(`forward${kind}`).includes("f4_b"), path);
      assert(
        names(`add_forward${kind}`).includes("af4_w") && names(`add_forward${kind}`).includes("af4_bias"),
        path,
      );
      assert(names(`backward_dx${kind}`).includes("d4_w"), `${path}: ${names(`backward_dx${kind}`)}`);
      assert(
        names(`add_backward_dx${kind}`).includes("ad4_w"),
        `${path}: ${names(`add_backward_dx${kind}`)}`,
      );
      staged.forEach((t, i) => assertClose(t, plain[i], { atol: 0, rtol: 0 }, `${path} output ${i}`));
      // and the plain run read them from buffers
      setLayerNormColumnStaging(false);
      await run();
      assert(!names(`add_forward${kind}`).includes("af4_w"), path);
    }
  } finally {
    setLayerNormColumnStaging(true);
    setLayerNormPath("auto");
    setStagedLoads("auto");
  }
});
