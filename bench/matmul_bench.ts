/**
 * Matmul throughput at BERT-base shapes in the three layouts training uses (A·B, A·Bᵀ, Aᵀ·B).
 *
 *   deno bench -A bench/matmul_bench.ts              Deno.bench timings (one iteration = ITERS products)
 *   deno run -A bench/matmul_bench.ts --report       a GFLOP/s table (and one JSON line); --path=texture |
 *                                                    texture-pack | generic | shared forces the texture
 *                                                    kernel, the pack-kernel staging, the buffer kernel or
 *                                                    the GPU-class workgroup-tiled kernel (default auto:
 *                                                    shared on real GPUs, texture on CPU adapters);
 *                                                    --attention adds batched attention-sized products;
 *                                                    --shape=MxKxN measures that shape only (any);
 *                                                    --iters=N products per sync (default 4);
 *                                                    --subgroups=off | both: the texture path without its
 *                                                    subgroup kernel (mm_sg4), or both interleaved (A/B)
 *
 * Each measurement encodes many products and waits once (`gpu().sync()`), so the ~12 ms readback and the
 * per-submit latency do not dominate. Times include packing the operands into textures. The report also
 * prints the latency of an empty sync (~11 ms on lavapipe), which is included once per `--iters` products:
 * at the default 4 it is ~2.8 ms of each product's time, so --iters=16 is closer to the kernel throughput.
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { Tensor, tidy } from "../src/engine/tensor.ts";
import {
  matmul,
  matmulFlops,
  type MatmulPath,
  setMatmulPath,
  setTextureSubgroups,
} from "../src/ops/matmul.ts";

await initGpu();

const SHAPES: [number, number, number][] = [[512, 768, 768], [512, 768, 3072], [512, 3072, 768]];
/** Attention-sized batched products (batch 8 × 12 heads, 128 tokens, head size 64): M, K, N, batch. */
const ATTENTION: [number, number, number, number][] = [[128, 64, 128, 96], [128, 128, 64, 96]];
const LAYOUTS = ["A·B", "A·Bᵀ", "Aᵀ·B"] as const;
const ITERS = 4;

interface Operands {
  a: Tensor;
  b: Tensor;
  transA: boolean;
  transB: boolean;
}

/** Persistent random operands of an M×K · K×N product in the given layout. */
function _operands(M: number, K: number, N: number, layout: (typeof LAYOUTS)[number], batch = 1): Operands {
  const transA = layout === "Aᵀ·B", transB = layout === "A·Bᵀ";
  const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  const lead = batch > 1 ? [batch] : [];
  const a = Tensor.from(rand(batch * M * K), [...lead, ...(transA ? [K, M] : [M, K])], "f32", "bench.a")
    .keep();
  const b = Tensor.from(rand(batch * K * N), [...lead, ...(transB ? [N, K] : [K, N])], "f32", "bench.b")
    .keep();
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
  const iters = Number(Deno.args.find((a) => a.startsWith("--iters="))?.slice(8) ?? ITERS);
  setMatmulPath(path);
  let syncMs = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await gpu().sync();
    syncMs = Math.min(syncMs, performance.now() - t0);
  }
  console.log(
    `adapter: ${gpu().describe().description}; path: ${path}; best of ${passes} passes × 2 rounds of ` +
      `${iters} products per sync; empty sync ${syncMs.toFixed(1)} ms`,
  );
  // The machine is shared: configurations are measured round-robin and the best of the passes is kept,
  // so a burst of foreign load does not decide a row.
  const only = Deno.args.find((a) => a.startsWith("--shape="))?.slice(8);
  const dims = only?.split("x").map(Number) ?? [];
  if (only && (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0))) {
    throw new Error(`--shape=${only}: expected MxKxN, e.g. 1024x128x384`);
  }
  const shapes = only ? [[...dims, 1]] : SHAPES.map(([M, K, N]) => [M, K, N, 1]);
  if (Deno.args.includes("--attention")) shapes.push(...ATTENTION);
  const sgArg = Deno.args.find((a) => a.startsWith("--subgroups="))?.slice(12) ?? "auto";
  if (!["auto", "off", "both"].includes(sgArg)) throw new Error(`--subgroups=${sgArg}: expected off or both`);
  const modes = sgArg === "both" ? ["auto", "off"] as const : [sgArg as "auto" | "off"];
  const configs = shapes.flatMap(([M, K, N, batch]) =>
    LAYOUTS.flatMap((layout) => modes.map((sg) => ({ M, K, N, batch, layout, sg })))
  );
  const operands = configs.map((c) => _operands(c.M, c.K, c.N, c.layout, c.batch));
  const best = configs.map(() => 0);
  for (let p = 0; p < passes; p++) {
    for (let i = 0; i < configs.length; i++) {
      const { M, K, N, batch, sg } = configs[i];
      setTextureSubgroups(sg);
      best[i] = Math.max(best[i], await _measure(operands[i], matmulFlops(M, N, K, batch), iters, 2));
    }
  }
  console.log("| shape (M×K · K×N) | layout | subgroups | ms / product | GFLOP/s |");
  console.log("|---|---|---|---|---|");
  configs.forEach(({ M, K, N, batch, layout, sg }, i) => {
    const ms = matmulFlops(M, N, K, batch) / best[i] / 1e6;
    const shape = `${batch > 1 ? `${batch} × ` : ""}${M}×${K} · ${K}×${N}`;
    console.log(`| ${shape} | ${layout} | ${sg} | ${ms.toFixed(2)} | ${best[i].toFixed(1)} |`);
  });
  // One line for scripts (bench/gpu_check.sh): the GFLOP/s of each row.
  const gflops = Object.fromEntries(
    configs.map((
      { M, K, N, batch, layout },
      i,
    ) => [
      `${batch > 1 ? `${batch}x` : ""}${M}x${K}x${N} ${layout}${
        modes.length > 1 ? ` sg:${configs[i].sg}` : ""
      }`,
      +best[i].toFixed(1),
    ]),
  );
  console.log(JSON.stringify({ path, gflops }));
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
