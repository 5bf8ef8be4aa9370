/**
 * BERT-base (bert-base-cased shapes, 110M parameters, random init) on the engine at batch 8 × 64:
 * forward tokens/s and training-step (forward + backward + clip + AdamW) tokens/s, plus the GPU memory of
 * parameters, gradients and AdamW moments. PyTorch on these 2 cores: ~880 tokens/s inference, ~240
 * tokens/s for a training step.
 *
 *   deno bench -A bench/model_bench.ts          # Deno.bench timings
 *   deno run -A bench/model_bench.ts --report   # one-off table with tokens/s and memory
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { backward, noGrad } from "../src/engine/tape.ts";
import { tidy } from "../src/engine/tensor.ts";
import { BertForTokenClassification } from "../src/model/bert.ts";
import { makeBertConfig } from "../src/model/config.ts";
import { AdamW, clipGradNorm } from "../src/ops/adamw.ts";
import { secondsPerCall } from "./_timing.ts";

await initGpu();
const B = 8, T = 64;
const LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];
const config = makeBertConfig({ vocab_size: 28996, labels: LABELS });
const model = BertForTokenClassification.random(config, 1).train();
const params = [...model.params.values()];
const optimizer = new AdamW(model.namedParameters().map(([, param]) => ({ param, weightDecay: 0.01 })), {
  lr: 2e-5,
});
const inputIds = Int32Array.from({ length: B * T }, (_, i) => 1000 + (i * 7919) % 27000);
const labels = Int32Array.from({ length: B * T }, (_, i) => (i * 31) % 9);
const batch = { batch: B, seqLen: T, inputIds, labels };

function forward(): void {
  noGrad(() => tidy(() => void model.eval().forward(batch)));
}

function trainStep(): void {
  model.train();
  tidy(() => backward(model.forward(batch).loss!));
  noGrad(() =>
    tidy(() => {
      const { scale } = clipGradNorm(params, 1);
      optimizer.step(2e-5, scale);
    })
  );
  optimizer.zeroGrad();
}

if (Deno.args.includes("--report")) {
  const fwd = await secondsPerCall(forward, 3);
  const step = await secondsPerCall(trainStep, 2);
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  const n = model.numParameters();
  console.log(`parameters: ${(n / 1e6).toFixed(1)}M; params+grads+AdamW moments = ${mib(16 * n)} MiB fp32`);
  console.log(`GPU pool after a step: allocated ${mib(gpu().memory().allocatedBytes)} MiB`);
  console.log(
    `forward 8x64: ${(fwd * 1000).toFixed(0)} ms = ${(B * T / fwd).toFixed(0)} tokens/s (PyTorch ~880)`,
  );
  console.log(
    `train step 8x64: ${(step * 1000).toFixed(0)} ms = ${(B * T / step).toFixed(0)} tokens/s (PyTorch ~240)`,
  );
} else {
  Deno.bench("bert-base forward 8x64", { n: 3, warmup: 1 }, async () => {
    forward();
    await gpu().sync();
  });
  Deno.bench("bert-base train step 8x64", { n: 2, warmup: 1 }, async () => {
    trainStep();
    await gpu().sync();
  });
}
