/**
 * add + LayerNorm forward (noGrad, bert-base inference rows: 2048 × 768) with LayerNorm's weight and bias
 * read through staged loads vs from storage buffers (`setLayerNormColumnStaging`), alternating in one
 * process. Prints one JSON line: the median ms per call of each setting.
 *
 *   deno run -A bench/layernorm_bench.ts [--rounds R]
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { noGrad } from "../src/engine/tape.ts";
import { Tensor, tidy } from "../src/engine/tensor.ts";
import { addLayerNorm, setLayerNormColumnStaging } from "../src/ops/layernorm.ts";
import { median, secondsPerCall } from "./_timing.ts";

/** Runs the A/B with the command line `args`. */
async function main(args: string[]): Promise<void> {
  const rounds = Number(args[args.indexOf("--rounds") + 1] || 0) || 4;
  await initGpu();
  const [R, C] = [2048, 768];
  const values = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k));
  const a = Tensor.from(values(R * C, 1.7), [R, C]).keep(),
    b = Tensor.from(values(R * C, 2.3), [R, C]).keep();
  const w = Tensor.from(values(C, 0.7), [C]).keep(), bias = Tensor.from(values(C, 0.3), [C]).keep();
  const run = () => noGrad(() => tidy(() => void addLayerNorm(a, b, w, bias, 1e-12)));
  const ms: Record<"buffers" | "staged", number[]> = { buffers: [], staged: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of ["buffers", "staged"] as const) {
      setLayerNormColumnStaging(mode === "staged");
      ms[mode].push(await secondsPerCall(run, 10) * 1000);
    }
  }
  setLayerNormColumnStaging(true);
  console.log(JSON.stringify({
    adapter: gpu().describe().description,
    shape: `${R}x${C}`,
    ms_buffers: +median(ms.buffers).toFixed(2),
    ms_staged: +median(ms.staged).toFixed(2),
  }));
}

if (import.meta.main) await main(Deno.args);
