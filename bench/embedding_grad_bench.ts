/**
 * The row-sparse word-embedding gradient against the dense one (`setRowSparseGrads(false)`: a fresh
 * (V, C) gradient cleared whole and summed whole for clipping each step), side by side in one process on
 * the same model: rounds alternate the two modes so that machine noise hits both. One step = forward,
 * backward, clipGradNorm, AdamW, zeroGrad (as `bench/compare_webgpu.ts`).
 *
 *   deno run -A bench/embedding_grad_bench.ts [demo|train] [--steps N] [--rounds R]
 *   deno run -A bench/embedding_grad_bench.ts [demo|train] --only dense|sparse --profile [--steps N]
 *
 * `--only` times one mode (one round); with `--profile` it prints the profiler table of those steps.
 *
 * `demo`: the demo recipe's model (2 layers × 128, vocab 28996) at 32 × 32 tokens; `train`: bert-base at
 * 8 × 64. Prints one JSON line: median seconds per step of each mode, dense / sparse, and the relative
 * difference of the global gradient norm (touched rows vs dense sum) over 3 steps.
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { backward, noGrad } from "../src/engine/tape.ts";
import { readAll, tidy } from "../src/engine/tensor.ts";
import { BertForTokenClassification } from "../src/model/bert.ts";
import { makeBertConfig } from "../src/model/config.ts";
import { AdamW, clipGradNorm, gradNorm } from "../src/ops/adamw.ts";
import { copy } from "../src/ops/elementwise.ts";
import { setRowSparseGrads } from "../src/ops/embedding_grad.ts";
import { profileFromArgs } from "../src/engine/profiler_cli.ts";
import { median } from "./_timing.ts";
import { DEMO_CONFIG, LABELS } from "./_demo_step.ts";

function _arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

async function main(args: string[]): Promise<void> {
  const kase = args[0] && !args[0].startsWith("--") ? args[0] : "demo";
  if (kase !== "demo" && kase !== "train") throw new Error(`unknown case '${kase}': expected demo or train`);
  const demo = kase === "demo";
  const steps = _arg(args, "--steps", demo ? 10 : 1), rounds = _arg(args, "--rounds", demo ? 4 : 2);
  await initGpu();
  const config = makeBertConfig(demo ? DEMO_CONFIG : { vocab_size: 28996, labels: LABELS });
  const model = BertForTokenClassification.random(config, 1).train();
  const params = [...model.params.values()];
  const lr = demo ? 1e-3 : 2e-5;
  const opt = new AdamW(model.namedParameters().map(([, param]) => ({ param, weightDecay: 0.01 })), { lr });
  const [B, T] = demo ? [32, 32] : [8, 64];
  // Different ids every step (so the rows a step clears are not the rows it writes).
  let k = 0;
  const step = () => {
    const inputIds = Int32Array.from({ length: B * T }, (_, i) => 1000 + ((i + k * 131) * 7919) % 27000);
    const labels = Int32Array.from({ length: B * T }, (_, i) => (i * 31) % 9);
    k++;
    tidy(() => backward(model.forward({ batch: B, seqLen: T, inputIds, labels }).loss!));
    noGrad(() => tidy(() => opt.step(lr, clipGradNorm(params, 1).scale)));
    opt.zeroGrad();
  };
  // The global gradient norm over the touched rows vs the dense sum of the same gradients (copies of them
  // are plain tensors: summed whole), over 3 steps.
  const normDiffs: number[] = [];
  for (let s = 0; s < 3; s++) {
    const inputIds = Int32Array.from({ length: B * T }, (_, i) => 1000 + ((i + s * 977) * 7919) % 27000);
    const labels = Int32Array.from({ length: B * T }, (_, i) => (i * 31) % 9);
    tidy(() => backward(model.forward({ batch: B, seqLen: T, inputIds, labels }).loss!));
    const [sparseNorm, denseNorm] = await noGrad(() =>
      tidy(async () => {
        const a = gradNorm(params.map((p) => p.grad!));
        const b = gradNorm(params.map((p) => copy(p.grad!)));
        const [x, y] = await readAll([a, b]);
        return [x[0], y[0]];
      })
    );
    normDiffs.push(Math.abs(sparseNorm - denseNorm) / denseNorm);
    opt.zeroGrad();
  }
  const times: Record<"dense" | "sparse", number[]> = { dense: [], sparse: [] };
  const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : null;
  if (only !== null && only !== "dense" && only !== "sparse") {
    throw new Error(`--only ${only}: dense or sparse`);
  }
  const prof = profileFromArgs(args);
  const timeMode = async (mode: "dense" | "sparse") => {
    setRowSparseGrads(mode === "sparse");
    step(); // warm-up: the first step after a switch allocates
    await gpu().sync();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    await gpu().sync();
    times[mode].push((performance.now() - t0) / steps / 1000);
  };
  if (only) await prof.around(() => timeMode(only));
  else {
    for (let r = 0; r < rounds; r++) {
      for (const mode of r % 2 ? ["sparse", "dense"] as const : ["dense", "sparse"] as const) {
        await timeMode(mode);
      }
    }
  }
  await prof.finish(steps);
  setRowSparseGrads(true);
  if (only) {
    console.log(
      JSON.stringify({ case: kase, mode: only, steps, s_per_step: times[only][0], norm_rel_diff: normDiffs }),
    );
    return;
  }
  const dense = median(times.dense), sparse = median(times.sparse);
  console.log(JSON.stringify({
    case: kase,
    adapter: gpu().describe().description,
    steps_per_round: steps,
    rounds,
    dense_s_per_step: dense,
    sparse_s_per_step: sparse,
    dense_over_sparse: dense / sparse,
    dense_min_s: Math.min(...times.dense),
    sparse_min_s: Math.min(...times.sparse),
    norm_rel_diff: normDiffs,
    dense_rounds: times.dense,
    sparse_rounds: times.sparse,
  }));
}

if (import.meta.main) await main(Deno.args);
