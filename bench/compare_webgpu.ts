/**
 * This project's side of `bench/compare_pytorch.ts`: the same cases as `bench/ref/bert_ref.py`, one per
 * process, printing one JSON line. Cases: `train` (bert-base step 8×64: forward, backward, clip, AdamW),
 * `infer` (bert-base forward 32×64), `demo` (the demo recipe's model — 2 layers × 128 hidden, 2 heads,
 * intermediate 512 — one training step at batch 32 × 32 tokens), `matmul` (A·B at the three BERT-base
 * shapes, `--per-sync` products per sync, default 32: Deno's `onSubmittedWorkDone` and `mapAsync` always
 * sleep 10 ms after the GPU is done (ext/webgpu's poll loop), a fixed cost per sync that is not the
 * product's; at 8 per sync it was ~12% of the figure, at 32 it is ~3%, and PyTorch's side times products
 * back to back). `--profile` prints the profiler table of the measured iterations.
 *
 *   deno run -A bench/compare_webgpu.ts train|infer|demo|matmul [--iters N] [--per-sync P] [--profile]
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { noGrad } from "../src/engine/tape.ts";
import { Tensor, tidy } from "../src/engine/tensor.ts";
import { BertForTokenClassification } from "../src/model/bert.ts";
import { makeBertConfig } from "../src/model/config.ts";
import { matmul, matmulFlops } from "../src/ops/matmul.ts";
import { benchAdamW, benchBatch, DEMO_CONFIG, LABELS, timedSeconds, trainStepFn } from "./_demo_step.ts";
import { profileFromArgs } from "../src/engine/profiler_cli.ts";

async function main(args: string[]): Promise<void> {
  const kase = args[0];
  const iters = Number(args[args.indexOf("--iters") + 1] || 0) || 2;
  await initGpu();
  const prof = profileFromArgs(args);
  const out: Record<string, unknown> = { case: kase, adapter: gpu().describe().description };
  if (kase === "train" || kase === "demo") {
    const demo = kase === "demo";
    const config = makeBertConfig(demo ? DEMO_CONFIG : { vocab_size: 28996, labels: LABELS });
    const model = BertForTokenClassification.random(config, 1).train();
    const lr = demo ? 1e-3 : 2e-5;
    const [B, T] = demo ? [32, 32] : [8, 64];
    const step = trainStepFn(model, benchAdamW(model, lr), benchBatch(B, T), lr);
    const n = demo ? Math.max(iters, 10) : iters;
    step();
    await gpu().sync();
    const s = await prof.around(() => timedSeconds(step, n, 0));
    out.seconds_per_iter = s;
    out.tokens_per_s = B * T / s;
    if (demo) out.steps_per_s = 1 / s;
  } else if (kase === "infer") {
    const model = BertForTokenClassification.random(makeBertConfig({ vocab_size: 28996, labels: LABELS }), 1)
      .eval();
    const { batch, seqLen, inputIds } = benchBatch(32, 64);
    const fwd = () => noGrad(() => tidy(() => void model.forward({ batch, seqLen, inputIds })));
    fwd();
    await gpu().sync();
    const s = await prof.around(() => timedSeconds(fwd, iters, 0));
    out.seconds_per_iter = s;
    out.tokens_per_s = 32 * 64 / s;
  } else if (kase === "matmul") {
    const rows = [];
    const perSync = Number(args[args.indexOf("--per-sync") + 1] || 0) || 32;
    out.products_per_sync = perSync;
    for (const [M, K, N] of [[512, 768, 768], [512, 768, 3072], [512, 3072, 768]]) {
      const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
      const a = Tensor.from(rand(M * K), [M, K], "f32", "bench.a").keep();
      const b = Tensor.from(rand(K * N), [K, N], "f32", "bench.b").keep();
      const run = () => tidy(() => void matmul(a, b));
      let best = Infinity;
      for (let r = 0; r < 3; r++) {
        best = Math.min(
          best,
          await timedSeconds(
            () => {
              for (let i = 0; i < perSync; i++) run();
            },
            1,
            r === 0 ? 1 : 0,
          ) / perSync,
        );
      }
      rows.push({ shape: `${M}x${K}x${N}`, gflops: matmulFlops(M, N, K) / best / 1e9 });
    }
    out.rows = rows;
  } else {
    throw new Error(`unknown case '${kase}': expected train, infer, demo or matmul`);
  }
  await prof.finish();
  console.log(JSON.stringify(out));
}

if (import.meta.main) await main(Deno.args);
