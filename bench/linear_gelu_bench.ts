/**
 * linearGelu at bert-base's intermediate shape (2048 × 768 · 768 → 3072), alternating in one process: a
 * forward nobody differentiates (the epilogue stores GELU only, `act = 2`) against the training forward
 * (the epilogue stores the pre-activation for the backward and its GELU, `act = 1`). Prints one JSON line:
 * the median ms per call of each.
 *
 *   deno run -A bench/linear_gelu_bench.ts [--rounds R]
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { Tensor, tidy } from "../src/engine/tensor.ts";
import { linearGelu } from "../src/ops/matmul.ts";
import { median, secondsPerCall } from "./_timing.ts";

/** Runs the A/B with the command line `args`. */
async function main(args: string[]): Promise<void> {
  const rounds = Number(args[args.indexOf("--rounds") + 1] || 0) || 5;
  await initGpu();
  const [M, K, N] = [2048, 768, 3072];
  const values = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k) * 0.5);
  const x = Tensor.from(values(M * K, 1.7), [M, K]).keep();
  const w = Tensor.from(values(N * K, 2.3), [N, K]).keep();
  const b = Tensor.from(values(N, 0.3), [N]).keep();
  const run = (train: boolean) => () =>
    tidy(() => {
      w.requiresGrad = train; // a recorded forward keeps the pre-activation for its backward
      void linearGelu(x, w, b);
      w.requiresGrad = false;
    });
  const ms: Record<"inference" | "training", number[]> = { inference: [], training: [] };
  for (let r = 0; r < rounds; r++) {
    ms.inference.push(await secondsPerCall(run(false), 4) * 1000);
    ms.training.push(await secondsPerCall(run(true), 4) * 1000);
  }
  console.log(JSON.stringify({
    adapter: gpu().describe().description,
    shape: `${M}x${K}x${N}`,
    ms_gelu_only: +median(ms.inference).toFixed(1),
    ms_with_pre_activation: +median(ms.training).toFixed(1),
  }));
}

if (import.meta.main) await main(Deno.args);
