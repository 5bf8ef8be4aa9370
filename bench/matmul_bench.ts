/**
 * Matmul throughput at BERT-base shapes in the three layouts training uses (A·B, A·Bᵀ, Aᵀ·B).
 *
 *   deno bench -A bench/matmul_bench.ts              Deno.bench timings (one iteration = ITERS products)
 *   deno run -A bench/matmul_bench.ts --report       a GFLOP/s table; --path=texture-pack | generic
 *                                                    measures the pack-kernel staging or the buffer kernel
 *
 * Each measurement encodes many products and waits once (`gpu().sync()`), so the ~12 ms readback and the
 * per-submit latency do not dominate. Times include packing the operands into textures.
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { Tensor, tidy } from "../src/engine/tensor.ts";
import { matmul, matmulFlops, type MatmulPath, setMatmulPath } from "../src/ops/matmul.ts";

await initGpu();

const SHAPES: [number, number, number][] = [[512, 768, 768], [512, 768, 3072], [512, 3072, 768]];
const LAYOUTS = ["A·B", "A·Bᵀ", "Aᵀ·B"] as const;
const ITERS = 4;

interface Operands {
  a: Tensor;
  b: Tensor;
  transA: boolean;
  transB: boolean;
}

/** Persistent random operands of an M×K · K×N product in the given layout. */
function _operands(M: number, K: number, N: number, layout: (typeof LAYOUTS)[number]): Operands {
  const transA = layout === "Aᵀ·B", transB = layout === "A·Bᵀ";
  const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  const a = Tensor.from(rand(M * K), transA ? [K, M] : [M, K], "f32", "bench.a").keep();
  const b = Tensor.from(rand(K * N), transB ? [N, K] : [K, N], "f32", "bench.b").keep();
  return { a, b, transA, transB };
}

function _run(o: Operands, iters: number): void {
  tidy(() => {
    for (let i = 0; i < iters; i++) matmul(o.a, o.b, { transA: o.transA, transB: o.transB });
  });
}

/** Best-of-`rounds` GFLOP/s of `iters` back-to-back products (after one warm-up product). */
async function _measure(o: Operands, flops: number, iters: number, rounds: number): Promise<number> {
  _run(o, 1);
  await gpu().sync();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    _run(o, iters);
    await gpu().sync();
    best = Math.min(best, (performance.now() - t0) / iters);
  }
  return flops / best / 1e6;
}

if (import.meta.main && Deno.args.includes("--report")) {
  const path = (Deno.args.find((a) => a.startsWith("--path="))?.slice(7) ?? "auto") as MatmulPath;
  const passes = Number(Deno.args.find((a) => a.startsWith("--passes="))?.slice(9) ?? 3);
  setMatmulPath(path);
  console.log(`adapter: ${gpu().describe().description}; path: ${path}; best of ${passes} passes × 2 rounds`);
  // The machine is shared: configurations are measured round-robin and the best of the passes is kept,
  // so a burst of foreign load does not decide a row.
  const configs = SHAPES.flatMap(([M, K, N]) => LAYOUTS.map((layout) => ({ M, K, N, layout })));
  const operands = configs.map((c) => _operands(c.M, c.K, c.N, c.layout));
  const best = configs.map(() => 0);
  for (let p = 0; p < passes; p++) {
    for (let i = 0; i < configs.length; i++) {
      const { M, K, N } = configs[i];
      best[i] = Math.max(best[i], await _measure(operands[i], matmulFlops(M, N, K), ITERS, 2));
    }
  }
  console.log("| shape (M×K · K×N) | layout | ms / product | GFLOP/s |");
  console.log("|---|---|---|---|");
  configs.forEach(({ M, K, N, layout }, i) => {
    const ms = matmulFlops(M, N, K) / best[i] / 1e6;
    console.log(`| ${M}×${K} · ${K}×${N} | ${layout} | ${ms.toFixed(1)} | ${best[i].toFixed(1)} |`);
  });
} else if (!import.meta.main || Deno.args.length === 0) {
  for (const [M, K, N] of SHAPES) {
    for (const layout of LAYOUTS) {
      const o = _operands(M, K, N, layout);
      const gflop = (matmulFlops(M, N, K) * ITERS) / 1e9;
      Deno.bench({
        name: `matmul ${layout} ${M}×${K}·${K}×${N} ×${ITERS} (${gflop.toFixed(2)} GFLOP)`,
        group: `${M}×${K}·${K}×${N}`,
        n: 3,
        warmup: 1,
        async fn() {
          _run(o, ITERS);
          await gpu().sync();
        },
      });
    }
  }
}
