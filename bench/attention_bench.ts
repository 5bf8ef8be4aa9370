/**
 * Attention throughput at BERT-base shapes: B=8, H=12, T=128, D=64 (mask with some padded keys).
 *
 *   deno bench -A bench/attention_bench.ts            Deno.bench timings (one iteration = ITERS calls)
 *   deno run -A bench/attention_bench.ts --report     a GFLOP/s table (best of --rounds=3);
 *                                                     --path=generic measures the generic kernels;
 *                                                     --subgroups=off without the subgroup row loaders
 *
 * Nominal FLOPs: forward 4·B·H·T²·D (Q·Kᵀ and P·V); backward 8·B·H·T²·D (dP, dQ, dK, dV — recomputing S
 * is not counted). Each measurement encodes ITERS calls and waits once (`gpu().sync()`); times include
 * staging the operands into textures.
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { backward } from "../src/engine/tape.ts";
import { Tensor, tidy } from "../src/engine/tensor.ts";
import {
  attention,
  type AttentionPath,
  attentionUsesSubgroups,
  setAttentionPath,
  setAttentionSubgroups,
} from "../src/ops/attention.ts";

await initGpu();
const B = 8, H = 12, T = 128, D = 64, ITERS = 4;
const N = B * T * H * D;
const FWD_FLOPS = 4 * B * H * T * T * D;
const BWD_FLOPS = 8 * B * H * T * T * D;

const rand = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s));
const [q, k, v] = [1, 2, 3].map((s) => {
  const t = Tensor.from(rand(N, s), [B, T, H * D], "f32", "bench.qkv").keep();
  t.requiresGrad = true;
  return t;
});
const maskHost = new Float32Array(B * T).fill(1);
for (let b = 0; b < B; b++) maskHost.fill(0, b * T + T - 8 * b, (b + 1) * T); // batch b pads 8·b keys
const mask = Tensor.from(maskHost, [B, T], "f32", "bench.mask").keep();
const gOut = Tensor.from(rand(N, 4), [B, T, H * D], "f32", "bench.grad").keep();

/** Milliseconds per forward call (`iters` calls encoded, one sync). */
async function forwardMs(p: number, iters: number): Promise<number> {
  return await tidy(async () => {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) attention(q, k, v, mask, H, { dropoutP: p, seed: i });
    await gpu().sync();
    return (performance.now() - t0) / iters;
  });
}

/** Milliseconds per backward call (the forwards are encoded and finished before timing). */
async function backwardMs(p: number, iters: number): Promise<number> {
  return await tidy(async () => {
    const outs = Array.from(
      { length: iters },
      (_, i) => attention(q, k, v, mask, H, { dropoutP: p, seed: i }),
    );
    await gpu().sync();
    const t0 = performance.now();
    for (const out of outs) backward(out, gOut);
    await gpu().sync();
    const ms = (performance.now() - t0) / iters;
    for (const t of [q, k, v]) {
      t.grad?.dispose();
      t.grad = null;
    }
    return ms;
  });
}

if (import.meta.main && Deno.args.includes("--report")) {
  const path = (Deno.args.find((a) => a.startsWith("--path="))?.slice(7) ?? "auto") as AttentionPath;
  const rounds = Number(Deno.args.find((a) => a.startsWith("--rounds="))?.slice(9) ?? 3);
  setAttentionPath(path);
  if (Deno.args.includes("--subgroups=off")) setAttentionSubgroups("off");
  console.log(
    `attention B=${B} H=${H} T=${T} D=${D}, ${path} kernels, subgroup loaders ${attentionUsesSubgroups()}, ` +
      gpu().describe().description,
  );
  for (const p of [0, 0.1]) {
    await forwardMs(p, 1); // warm-up: pipelines compiled, textures created
    await backwardMs(p, 1);
    let f = Infinity, b = Infinity;
    for (let r = 0; r < rounds; r++) {
      f = Math.min(f, await forwardMs(p, ITERS));
      b = Math.min(b, await backwardMs(p, ITERS));
    }
    console.log(
      `  dropout ${p}: forward ${f.toFixed(1)} ms = ${(FWD_FLOPS / f / 1e6).toFixed(1)} GFLOP/s, ` +
        `backward ${b.toFixed(1)} ms = ${(BWD_FLOPS / b / 1e6).toFixed(1)} GFLOP/s`,
    );
  }
} else {
  for (const p of [0, 0.1]) {
    Deno.bench(`attention forward B${B} H${H} T${T} D${D}, dropout ${p} (×${ITERS})`, async () => {
      await forwardMs(p, ITERS);
    });
    Deno.bench(`attention backward B${B} H${H} T${T} D${D}, dropout ${p} (×${ITERS})`, async () => {
      await backwardMs(p, ITERS);
    });
  }
}
