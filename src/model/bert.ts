/**
 * BertForTokenClassification on the engine's ops, mirroring Hugging Face's module paths: every parameter's
 * name is its checkpoint key (`bert.embeddings.word_embeddings.weight`, …,
 * `bert.encoder.layer.{i}.attention.self.query.weight`, …, `classifier.weight`) and the semantics are HF's
 * eager BERT: embeddings (word + position + token type) → LayerNorm → dropout; per layer self-attention with
 * the additive mask `(1 − m)·f32 min`, output dense + dropout + residual LayerNorm, intermediate dense +
 * exact-erf GELU, output dense + dropout + residual LayerNorm; classifier dropout and a linear head; loss
 * CrossEntropy with ignore_index −100.
 * @module
 */
import { add } from "../ops/elementwise.ts";
import { embedding } from "../ops/embedding.ts";
import { addLayerNorm } from "../ops/layernorm.ts";
import type { Tensor } from "../engine/tensor.ts";
import {
  defaultInit,
  type ModelFamily,
  type TokenBatch,
  TokenClassifierBase,
  type TokenClassifierOutput,
  uploadWeights,
} from "./classifier.ts";
import { type BertConfig, configToJson, makeBertConfig, numLabels, parseBertConfig } from "./config.ts";
import {
  arangePositions,
  batchInputs,
  bertLayer,
  bertLayerShapes,
  tokenClassificationHead,
  tokenTypes,
} from "./encoder.ts";

export { type TokenBatch, type TokenClassifierOutput, toTokenBatch } from "./classifier.ts";

/** Parameter name → shape for a config, in HF's module order. */
export function parameterShapes(config: BertConfig): [string, number[]][] {
  const h = config.hidden_size, inter = config.intermediate_size;
  const out: [string, number[]][] = [
    ["bert.embeddings.word_embeddings.weight", [config.vocab_size, h]],
    ["bert.embeddings.position_embeddings.weight", [config.max_position_embeddings, h]],
    ["bert.embeddings.token_type_embeddings.weight", [config.type_vocab_size, h]],
    ["bert.embeddings.LayerNorm.weight", [h]],
    ["bert.embeddings.LayerNorm.bias", [h]],
  ];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    out.push(...bertLayerShapes(`bert.encoder.layer.${i}`, h, inter));
  }
  out.push(["classifier.weight", [numLabels(config), h]], ["classifier.bias", [numLabels(config)]]);
  return out;
}

/** HF Trainer's weight-decay grouping: no decay on biases and LayerNorm parameters. */
export function decays(name: string): boolean {
  return !name.endsWith(".bias") && !name.includes("LayerNorm");
}

/**
 * HF's `_init_weights` on the host: Linear and Embedding weights ~ normal(0, initializer_range), biases 0,
 * LayerNorm weight 1 and bias 0, the word embedding's padding row 0. Seeded and reproducible.
 */
export function initialWeights(
  config: BertConfig,
  seed: number,
  name: string,
  shape: number[],
): Float32Array {
  const padRow = name === "bert.embeddings.word_embeddings.weight" ? config.pad_token_id : null;
  return defaultInit(name, shape, config.initializer_range, seed, (n) => n.includes("LayerNorm"), padRow);
}

/** BertForTokenClassification: parameters on the GPU and a differentiable forward. */
export class BertForTokenClassification extends TokenClassifierBase<BertConfig> {
  /** Wraps parameters already on the GPU; see {@link BertForTokenClassification.fromWeights}. */
  constructor(config: BertConfig, params: Map<string, Tensor>, seed = 42) {
    super(config, params, parameterShapes(config), seed);
  }

  /** Uploads host weights (one Float32Array per parameter name; all must be present). */
  static fromWeights(
    config: BertConfig,
    weights: Map<string, Float32Array>,
    seed = 42,
  ): BertForTokenClassification {
    return new BertForTokenClassification(config, uploadWeights(parameterShapes(config), weights), seed);
  }

  /** A randomly initialised model (HF's initialisation; see {@link initialWeights}). */
  static random(config: BertConfig, seed = 42): BertForTokenClassification {
    const weights = new Map<string, Float32Array>();
    for (const [name, shape] of parameterShapes(config)) {
      weights.set(name, initialWeights(config, seed, name, shape));
    }
    return BertForTokenClassification.fromWeights(config, weights, seed);
  }

  /** HF Trainer's weight-decay grouping (see {@link decays}). */
  override decays(name: string): boolean {
    return decays(name);
  }

  /** Runs the model; records on the tape unless inside `noGrad`. Call inside a scope (`tidy`). */
  forward(batch: TokenBatch): TokenClassifierOutput {
    const c = this.config;
    const { ids, mask } = batchInputs(batch, c.vocab_size, c.max_position_embeddings);
    const posIds = arangePositions(batch.batch, batch.seqLen);
    const typeIds = tokenTypes(batch, c.type_vocab_size);
    const e = "bert.embeddings";
    let x = this.drop(
      addLayerNorm(
        add(
          embedding(ids, this.table(`${e}.word_embeddings.weight`), c.pad_token_id),
          embedding(posIds, this.p(`${e}.position_embeddings.weight`)),
        ),
        embedding(typeIds, this.p(`${e}.token_type_embeddings.weight`)),
        this.p(`${e}.LayerNorm.weight`),
        this.p(`${e}.LayerNorm.bias`),
        c.layer_norm_eps,
      ),
      c.hidden_dropout_prob,
    );
    for (let i = 0; i < c.num_hidden_layers; i++) x = bertLayer(this, `bert.encoder.layer.${i}`, x, mask, c);
    const pc = c.classifier_dropout ?? c.hidden_dropout_prob;
    return tokenClassificationHead(this, x, pc, batch, numLabels(c));
  }
}

/** BERT's checkpoint key → model key: adds `bert.` to bare keys, renames LayerNorm gamma/beta. */
export function normalizeBertKey(key: string): string {
  let k = key.replace(/LayerNorm\.gamma$/, "LayerNorm.weight").replace(/LayerNorm\.beta$/, "LayerNorm.bias");
  if (/^(embeddings|encoder|pooler)\./.test(k)) k = `bert.${k}`;
  return k;
}

/** BERT's special tokens (bert-base-cased's tokenizer files). */
export const BERT_SPECIAL_TOKENS: Record<string, string> = {
  unk_token: "[UNK]",
  sep_token: "[SEP]",
  pad_token: "[PAD]",
  cls_token: "[CLS]",
  mask_token: "[MASK]",
};

/** The registry entry of `model_type: bert`. */
export const BERT_FAMILY: ModelFamily<BertConfig> = {
  modelTypes: ["bert"],
  architecture: () => "BertForTokenClassification",
  parseConfig: (json, source) => parseBertConfig(json, source),
  makeConfig: (_type, fields, labels) =>
    makeBertConfig({ ...fields, labels } as Parameters<typeof makeBertConfig>[0]),
  configToJson,
  parameterShapes,
  initialWeights,
  isHead: (name) => name.startsWith("classifier."),
  normalizeKey: normalizeBertKey,
  create: (config, params, seed) => new BertForTokenClassification(config, params, seed),
  tokenizerClass: () => "BertTokenizer",
  tokenizerConfig: () => ({ do_lower_case: false }),
  specialTokens: () => ({ ...BERT_SPECIAL_TOKENS }),
};
