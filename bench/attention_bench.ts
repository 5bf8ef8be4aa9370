/**
 * Attention throughput at BERT-base shapes: B=8, H=12, T=128, D=64. Nominal FLOPs: forward 4·B·H·T²·D
 * (Q·Kᵀ and P·V), backward 8·B·H·T²·D (dP, dQ, dK, dV; the recomputation of S is not counted).
 * Run: `XDG_RUNTIME_DIR=/tmp deno bench -A bench/attention_bench.ts`.
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { backward } from "../src/engine/tape.ts";
import { Tensor, tidy } from "../src/engine/tensor.ts";
import { attention } from "../src/ops/attention.ts";

await initGpu();
const B = 8, H = 12, T = 128, D = 64, ITERS = 5;
const N = B * T * H * D;
const FWD_FLOPS = 4 * B * H * T * T * D;
const BWD_FLOPS = 8 * B * H * T * T * D;

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
}

const q = Tensor.from(rand(N, 1), [B, T, H * D]).keep();
const k = Tensor.from(rand(N, 2), [B, T, H * D]).keep();
const v = Tensor.from(rand(N, 3), [B, T, H * D]).keep();
const maskHost = new Float32Array(B * T).fill(1);
for (let b = 0; b < B; b++) maskHost.fill(0, b * T + T - 8 * b, (b + 1) * T);
const mask = Tensor.from(maskHost, [B, T]).keep();
const gOut = Tensor.from(rand(N, 4), [B, T, H * D]).keep();
for (const t of [q, k, v]) t.requiresGrad = true;

async function forward(p: number): Promise<number> {
  return await tidy(async () => {
    attention(q, k, v, mask, H, { dropoutP: p, seed: 1 }); // warm-up: pipelines compiled
    await gpu().sync();
    const t0 = performance.now();
    for (let i = 0; i < ITERS; i++) attention(q, k, v, mask, H, { dropoutP: p, seed: i });
    await gpu().sync();
    return (performance.now() - t0) / ITERS;
  });
}

async function backwardMs(p: number): Promise<number> {
  return await tidy(async () => {
    const outs = Array.from(
      { length: ITERS + 1 },
      (_, i) => attention(q, k, v, mask, H, { dropoutP: p, seed: i }),
    );
    backward(outs[0], gOut);
    await gpu().sync();
    const t0 = performance.now();
    for (let i = 1; i <= ITERS; i++) backward(outs[i], gOut);
    await gpu().sync();
    const ms = (performance.now() - t0) / ITERS;
    for (const t of [q, k, v]) {
      t.grad?.dispose();
      t.grad = null;
    }
    return ms;
  });
}

for (const p of [0, 0.1]) {
  Deno.bench(`attention forward B${B} H${H} T${T} D${D} dropout ${p}`, { n: 1, warmup: 0 }, async () => {
    const ms = await forward(p);
    console.log(`  forward  p=${p}: ${ms.toFixed(1)} ms/iter, ${(FWD_FLOPS / ms / 1e6).toFixed(1)} GFLOP/s`);
  });
  Deno.bench(`attention backward B${B} H${H} T${T} D${D} dropout ${p}`, { n: 1, warmup: 0 }, async () => {
    const ms = await backwardMs(p);
    console.log(`  backward p=${p}: ${ms.toFixed(1)} ms/iter, ${(BWD_FLOPS / ms / 1e6).toFixed(1)} GFLOP/s`);
  });
}
