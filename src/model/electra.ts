/**
 * ElectraForTokenClassification (the discriminator) mirroring HF's modeling_electra: parameter names are
 * checkpoint keys (`electra.embeddings.*`, `electra.embeddings_project.*` when `embedding_size` differs
 * from `hidden_size`, `electra.encoder.layer.{i}.…` as BERT's, `classifier.*`). Embeddings (word +
 * token type + position, `embedding_size` wide) → LayerNorm → dropout → `embeddings_project` (Linear E → H,
 * only when E ≠ H) → BERT encoder layers → dropout (`classifier_dropout`, else `hidden_dropout_prob`) →
 * classifier. Positions 0..T−1, additive mask, exact GELU.
 * @module
 */
import { add } from "../ops/elementwise.ts";
import { embedding } from "../ops/embedding.ts";
import { addLayerNorm } from "../ops/layernorm.ts";
import { linear } from "../ops/matmul.ts";
import type { Tensor } from "../engine/tensor.ts";
import {
  defaultInit,
  type ModelFamily,
  type TokenBatch,
  TokenClassifierBase,
  type TokenClassifierConfig,
  type TokenClassifierOutput,
} from "./classifier.ts";
import { type BertConfig, familyConfigJson, labelMaps, numLabels, parseBertStyleConfig } from "./config.ts";
import {
  arangePositions,
  batchInputs,
  bertLayer,
  bertLayerShapes,
  tokenClassificationHead,
  tokenTypes,
} from "./encoder.ts";

/** ElectraConfig: BertConfig's fields plus `embedding_size`. */
export interface ElectraConfig extends Omit<BertConfig, "model_type">, TokenClassifierConfig {
  model_type: "electra";
  /** Width of the embeddings (projected to hidden_size when different). */
  embedding_size: number;
}

/** HF's ElectraConfig defaults (electra-small-discriminator shapes). */
export const ELECTRA_DEFAULTS: Omit<ElectraConfig, "id2label" | "label2id" | "extra"> = {
  model_type: "electra",
  vocab_size: 30522,
  embedding_size: 128,
  hidden_size: 256,
  num_hidden_layers: 12,
  num_attention_heads: 4,
  intermediate_size: 1024,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  position_embedding_type: "absolute",
  use_cache: true,
  classifier_dropout: null,
};

/** Parses an ELECTRA config.json (ElectraConfig defaults, every field checked). */
export function parseElectraConfig(json: unknown, source = "config.json"): ElectraConfig {
  return parseBertStyleConfig(json, source, ELECTRA_DEFAULTS, ["electra"], [
    "embedding_size",
  ]) as unknown as ElectraConfig;
}

/** Parameter name → shape, in HF's module order. */
export function electraParameterShapes(config: ElectraConfig): [string, number[]][] {
  const h = config.hidden_size, es = config.embedding_size, e = "electra.embeddings";
  const out: [string, number[]][] = [
    [`${e}.word_embeddings.weight`, [config.vocab_size, es]],
    [`${e}.position_embeddings.weight`, [config.max_position_embeddings, es]],
    [`${e}.token_type_embeddings.weight`, [config.type_vocab_size, es]],
    [`${e}.LayerNorm.weight`, [es]],
    [`${e}.LayerNorm.bias`, [es]],
  ];
  if (es !== h) {
    out.push(["electra.embeddings_project.weight", [h, es]], ["electra.embeddings_project.bias", [h]]);
  }
  for (let i = 0; i < config.num_hidden_layers; i++) {
    out.push(...bertLayerShapes(`electra.encoder.layer.${i}`, h, config.intermediate_size));
  }
  out.push(["classifier.weight", [numLabels(config), h]], ["classifier.bias", [numLabels(config)]]);
  return out;
}

/**
 * HF's `_init_weights` (ElectraPreTrainedModel): Linear/Embedding ~ normal(0, initializer_range), biases 0,
 * LayerNorm 1/0, the word embedding's padding_idx row 0.
 */
export function electraInitialWeights(
  config: ElectraConfig,
  seed: number,
  name: string,
  shape: number[],
): Float32Array {
  const padRow = name === "electra.embeddings.word_embeddings.weight" ? config.pad_token_id : null;
  return defaultInit(name, shape, config.initializer_range, seed, (n) => n.includes("LayerNorm"), padRow);
}

/** ElectraForTokenClassification: parameters on the GPU and a differentiable forward. */
export class ElectraForTokenClassification extends TokenClassifierBase<ElectraConfig> {
  /** Wraps parameters already on the GPU (checked against {@link electraParameterShapes}). */
  constructor(config: ElectraConfig, params: Map<string, Tensor>, seed = 42) {
    super(config, params, electraParameterShapes(config), seed);
  }

  /** Runs the model; records on the tape unless inside `noGrad`. Call inside a scope (`tidy`). */
  forward(batch: TokenBatch): TokenClassifierOutput {
    const c = this.config;
    const { ids, mask } = batchInputs(batch, c.vocab_size, c.max_position_embeddings);
    const posIds = arangePositions(batch.batch, batch.seqLen);
    const typeIds = tokenTypes(batch, c.type_vocab_size);
    const e = "electra.embeddings";
    let x = this.drop(
      addLayerNorm(
        add(
          embedding(ids, this.table(`${e}.word_embeddings.weight`), c.pad_token_id),
          embedding(typeIds, this.p(`${e}.token_type_embeddings.weight`)),
        ),
        embedding(posIds, this.p(`${e}.position_embeddings.weight`)),
        this.p(`${e}.LayerNorm.weight`),
        this.p(`${e}.LayerNorm.bias`),
        c.layer_norm_eps,
      ),
      c.hidden_dropout_prob,
    );
    if (c.embedding_size !== c.hidden_size) {
      x = linear(x, this.p("electra.embeddings_project.weight"), this.p("electra.embeddings_project.bias"));
    }
    for (let i = 0; i < c.num_hidden_layers; i++) {
      x = bertLayer(this, `electra.encoder.layer.${i}`, x, mask, c);
    }
    return tokenClassificationHead(
      this,
      x,
      c.classifier_dropout ?? c.hidden_dropout_prob,
      batch,
      numLabels(c),
    );
  }
}

/** Checkpoint key → model key: `electra.` added to bare keys, LayerNorm gamma/beta renamed. */
export function normalizeElectraKey(key: string): string {
  let k = key.replace(/LayerNorm\.gamma$/, "LayerNorm.weight").replace(/LayerNorm\.beta$/, "LayerNorm.bias");
  if (/^(embeddings|embeddings_project|encoder)\./.test(k)) k = `electra.${k}`;
  return k;
}

/** The registry entry of `model_type: electra`. */
export const ELECTRA_FAMILY: ModelFamily<ElectraConfig> = {
  modelTypes: ["electra"],
  architecture: () => "ElectraForTokenClassification",
  parseConfig: (json, source) => parseElectraConfig(json, source),
  makeConfig: (_type, fields, labels) =>
    parseElectraConfig({ ...ELECTRA_DEFAULTS, ...fields, ...labelMaps(labels) }, "config"),
  configToJson: (config) => familyConfigJson(config, "ElectraForTokenClassification"),
  parameterShapes: electraParameterShapes,
  initialWeights: electraInitialWeights,
  isHead: (name) => name.startsWith("classifier."),
  normalizeKey: normalizeElectraKey,
  create: (config, params, seed) => new ElectraForTokenClassification(config, params, seed),
  tokenizerClass: () => "ElectraTokenizer",
  tokenizerConfig: () => ({ do_lower_case: false }),
  specialTokens: () => ({
    unk_token: "[UNK]",
    sep_token: "[SEP]",
    pad_token: "[PAD]",
    cls_token: "[CLS]",
    mask_token: "[MASK]",
  }),
};
