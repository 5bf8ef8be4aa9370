/**
 * Shared pieces of the training-step benches (compare_webgpu.ts, demo_ab_bench.ts): a fixed synthetic
 * batch, the demo recipe's model shape, one clipped AdamW training step, and its timing.
 * @module
 */
import { gpu } from "../src/engine/gpu.ts";
import { backward, noGrad } from "../src/engine/tape.ts";
import { tidy } from "../src/engine/tensor.ts";
import type { BertForTokenClassification } from "../src/model/bert.ts";
import { AdamW, clipGradNorm } from "../src/ops/adamw.ts";

/** CoNLL-2003's label set. */
export const LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];

/** The demo recipe's model (`deno task demo`): 2 layers × 128 hidden, 2 heads, intermediate 512. */
export const DEMO_CONFIG = {
  vocab_size: 28996,
  hidden_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 512,
  labels: LABELS,
};

/** A deterministic B × T batch of ids and labels (no padding). */
export function benchBatch(B: number, T: number) {
  const inputIds = Int32Array.from({ length: B * T }, (_, i) => 1000 + (i * 7919) % 27000);
  const labels = Int32Array.from({ length: B * T }, (_, i) => (i * 31) % 9);
  return { batch: B, seqLen: T, inputIds, labels };
}

/** Mean seconds per call of `fn` over `iters` calls, one GPU sync before and after. */
export async function timedSeconds(fn: () => void, iters: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) fn();
  await gpu().sync();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) fn();
  await gpu().sync();
  return (performance.now() - t0) / iters / 1000;
}

/** One training step as the Trainer runs it: forward, backward, clip to norm 1, AdamW, zero_grad. */
export function trainStepFn(
  model: BertForTokenClassification,
  opt: AdamW,
  batch: ReturnType<typeof benchBatch>,
  lr: number,
): () => void {
  const params = [...model.params.values()];
  return () => {
    model.train();
    tidy(() => backward(model.forward(batch).loss!));
    noGrad(() =>
      tidy(() => {
        const { scale } = clipGradNorm(params, 1);
        opt.step(lr, scale);
      })
    );
    opt.zeroGrad();
  };
}

/** AdamW over every parameter of `model` with weight decay 0.01. */
export function benchAdamW(model: BertForTokenClassification, lr: number): AdamW {
  return new AdamW(model.namedParameters().map(([, param]) => ({ param, weightDecay: 0.01 })), { lr });
}
