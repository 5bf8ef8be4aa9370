/**
 * Training-step throughput of each model family at base size (random init, HF's base configs), batch
 * 8 × 64: one step = forward + backward + grad-norm clip + AdamW, timed after a warm-up step.
 *
 * | model_type  | base shape                                                    |
 * | ----------- | ------------------------------------------------------------- |
 * | bert        | bert-base-cased: vocab 28996, 768 × 12 layers × 12 heads, 3072 |
 * | distilbert  | distilbert-base-cased: vocab 28996, dim 768, 6 layers, 3072    |
 * | roberta     | roberta-base: vocab 50265, 768 × 12, positions 514, eps 1e-5   |
 * | electra     | electra-base-discriminator: vocab 30522, embedding 768, 768×12 |
 *
 * XLM-R and CamemBERT run RoBERTa's network (their vocabularies only change the embedding lookup). A
 * word-embedding table over the device's maxStorageBufferBindingSize (roberta-base on lavapipe: 154 MB >
 * 128 MiB) is stored as row chunks (src/model/chunked.ts) at the full vocabulary; the report says how many.
 *
 *   deno run -A bench/families_bench.ts --report [--steps N] [--only bert,roberta]
 *   deno bench -A bench/families_bench.ts
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { backward, noGrad } from "../src/engine/tape.ts";
import { tidy } from "../src/engine/tensor.ts";
import type { TokenClassifier } from "../src/model/classifier.ts";
import { makeModelConfig, randomModel } from "../src/model/registry.ts";
import { AdamW, clipGradNorm } from "../src/ops/adamw.ts";
import { checkpointParameters, parameterKey } from "../src/model/chunked.ts";

await initGpu();
const B = 8, T = 64;
const LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];

/** Base-size configs (fields with generic names; each family maps them to its own). */
const BASE: Record<string, Record<string, unknown>> = {
  bert: { vocab_size: 28996 },
  distilbert: { vocab_size: 28996, num_hidden_layers: 6 },
  // roberta-base's 50265 × 768 f32 word embeddings (154 MB) exceed a 128 MiB storage binding (lavapipe's
  // maxStorageBufferBindingSize); on such devices the table is stored as row chunks.
  roberta: { vocab_size: 50265, pad_token_id: 1, max_position_embeddings: 512 },
  electra: {
    vocab_size: 30522,
    embedding_size: 768,
    hidden_size: 768,
    num_attention_heads: 12,
    intermediate_size: 3072,
  },
};

function trainStepFn(model: TokenClassifier): { step: () => void; optimizer: AdamW } {
  const params = [...model.params.values()];
  const optimizer = new AdamW(
    model.namedParameters().map(([n, param]) => ({
      param,
      weightDecay: model.decays(parameterKey(n)) ? 0.01 : 0,
    })),
    { lr: 2e-5 },
  );
  const vocab = model.config.vocab_size;
  const inputIds = Int32Array.from({ length: B * T }, (_, i) => 5 + (i * 7919) % (vocab - 10));
  const labels = Int32Array.from({ length: B * T }, (_, i) => (i * 31) % LABELS.length);
  const batch = { batch: B, seqLen: T, inputIds, labels };
  model.train();
  const step = () => {
    tidy(() => backward(model.forward(batch).loss!));
    noGrad(() =>
      tidy(() => {
        const { scale } = clipGradNorm(params, 1);
        optimizer.step(2e-5, scale);
      })
    );
    optimizer.zeroGrad();
  };
  return { step, optimizer };
}

function build(type: string): TokenClassifier {
  const model = randomModel(makeModelConfig(type, { ...BASE[type] }, LABELS), 1);
  const chunks = checkpointParameters(model.params).filter((p) => p.chunked);
  for (const p of chunks) {
    console.error(`${type}: ${p.key} [${p.shape}] stored as ${p.parts.length} row chunks`);
  }
  return model;
}

const arg = (flag: string) => {
  const i = Deno.args.indexOf(flag);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const only = arg("--only")?.split(",") ?? Object.keys(BASE);

if (Deno.args.includes("--report")) {
  const steps = Number(arg("--steps") ?? 2);
  for (const type of only) {
    const model = build(type);
    const { step, optimizer } = trainStepFn(model);
    step();
    await gpu().sync();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    await gpu().sync();
    const s = (performance.now() - t0) / steps / 1000;
    console.log(
      `${type.padEnd(10)} ${(model.numParameters() / 1e6).toFixed(1)}M params  train step 8x64: ` +
        `${(s * 1000).toFixed(0)} ms = ${(B * T / s).toFixed(0)} tokens/s`,
    );
    optimizer.dispose();
    model.dispose();
  }
} else {
  for (const type of only) {
    let model: TokenClassifier | null = null;
    let step: (() => void) | null = null;
    Deno.bench(`${type}-base train step 8x64`, { n: 2, warmup: 1 }, async () => {
      model ??= build(type);
      step ??= trainStepFn(model).step;
      step();
      await gpu().sync();
    });
  }
}
