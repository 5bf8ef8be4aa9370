/**
 * RobertaForTokenClassification — also XLM-RoBERTa and CamemBERT, the same network under another
 * `model_type`/`architectures` — mirroring HF's modeling_roberta: parameter names are checkpoint keys
 * (`roberta.embeddings.word_embeddings.weight`, …, `roberta.encoder.layer.{i}.…` as BERT's, `classifier.*`).
 * Differences from BERT are all in the embeddings: position ids come from the input ids
 * (`create_position_ids_from_input_ids`: `padding_idx + cumsum(ids ≠ pad)` for real tokens, `padding_idx`
 * at padding), and the position table's `padding_idx` row (pad id, 1 in the released checkpoints) is zero
 * at init and gets no gradient; `type_vocab_size` 1 and eps 1e-5 in the released configs.
 * @module
 */
import { add } from "../ops/elementwise.ts";
import { embedding } from "../ops/embedding.ts";
import { addLayerNorm } from "../ops/layernorm.ts";
import { Tensor } from "../engine/tensor.ts";
import {
  ConfigError,
  defaultInit,
  type ModelFamily,
  type TokenBatch,
  TokenClassifierBase,
  type TokenClassifierConfig,
  type TokenClassifierOutput,
} from "./classifier.ts";
import { type BertConfig, familyConfigJson, labelMaps, numLabels, parseBertStyleConfig } from "./config.ts";
import { batchInputs, bertLayer, bertLayerShapes, tokenClassificationHead, tokenTypes } from "./encoder.ts";

/** The model_types this file serves. */
export const ROBERTA_MODEL_TYPES = ["roberta", "xlm-roberta", "camembert"] as const;

/** RobertaConfig / XLMRobertaConfig / CamembertConfig: BertConfig's fields, other defaults. */
export interface RobertaConfig extends Omit<BertConfig, "model_type">, TokenClassifierConfig {
  model_type: (typeof ROBERTA_MODEL_TYPES)[number];
  bos_token_id: number;
  eos_token_id: number;
}

/** HF's RobertaConfig class defaults (XLMRobertaConfig/CamembertConfig: vocab 30522). */
export const ROBERTA_DEFAULTS: Omit<RobertaConfig, "id2label" | "label2id" | "extra"> = {
  model_type: "roberta",
  vocab_size: 50265,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 1,
  bos_token_id: 0,
  eos_token_id: 2,
  position_embedding_type: "absolute",
  use_cache: true,
  classifier_dropout: null,
};

/** The released checkpoints' shape-independent choices, used for from-scratch configs (roberta-base). */
const _SCRATCH = { type_vocab_size: 1, layer_norm_eps: 1e-5 };

const _ARCH: Record<string, string> = {
  "roberta": "RobertaForTokenClassification",
  "xlm-roberta": "XLMRobertaForTokenClassification",
  "camembert": "CamembertForTokenClassification",
};

const _TOKENIZER: Record<string, string> = {
  "roberta": "RobertaTokenizer",
  "xlm-roberta": "XLMRobertaTokenizer",
  "camembert": "CamembertTokenizer",
};

/** Parses a RoBERTa-family config.json (RobertaConfig defaults; `model_type` kept). */
export function parseRobertaConfig(json: unknown, source = "config.json"): RobertaConfig {
  const raw = json as Record<string, unknown>;
  const type = (raw && typeof raw === "object" ? raw.model_type : undefined) ?? "roberta";
  const defaults = type === "roberta" ? ROBERTA_DEFAULTS : { ...ROBERTA_DEFAULTS, vocab_size: 30522 };
  const c = parseBertStyleConfig(json, source, defaults, ROBERTA_MODEL_TYPES) as unknown as RobertaConfig;
  if (c.max_position_embeddings <= c.pad_token_id + 1) {
    throw new ConfigError(
      source,
      `max_position_embeddings ${c.max_position_embeddings} leaves no positions after padding_idx ` +
        `${c.pad_token_id} (positions start at pad_token_id + 1)`,
    );
  }
  return c;
}

/** Parameter name → shape, in HF's module order. */
export function robertaParameterShapes(config: RobertaConfig): [string, number[]][] {
  const h = config.hidden_size, inter = config.intermediate_size, e = "roberta.embeddings";
  const out: [string, number[]][] = [
    [`${e}.word_embeddings.weight`, [config.vocab_size, h]],
    [`${e}.position_embeddings.weight`, [config.max_position_embeddings, h]],
    [`${e}.token_type_embeddings.weight`, [config.type_vocab_size, h]],
    [`${e}.LayerNorm.weight`, [h]],
    [`${e}.LayerNorm.bias`, [h]],
  ];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    out.push(...bertLayerShapes(`roberta.encoder.layer.${i}`, h, inter));
  }
  out.push(["classifier.weight", [numLabels(config), h]], ["classifier.bias", [numLabels(config)]]);
  return out;
}

/**
 * HF's `_init_weights` (RobertaPreTrainedModel): Linear/Embedding ~ normal(0, initializer_range), biases 0,
 * LayerNorm 1/0, and the `padding_idx` row of both the word and the position embedding zero.
 */
export function robertaInitialWeights(
  config: RobertaConfig,
  seed: number,
  name: string,
  shape: number[],
): Float32Array {
  const padded = name.endsWith("embeddings.word_embeddings.weight") ||
    name.endsWith("embeddings.position_embeddings.weight");
  return defaultInit(
    name,
    shape,
    config.initializer_range,
    seed,
    (n) => n.includes("LayerNorm"),
    padded ? config.pad_token_id : null,
  );
}

/**
 * RoBERTa's position ids (HF `create_position_ids_from_input_ids`): for each row, `padding_idx + k` at the
 * k-th non-pad token (k from 1) and `padding_idx` at pad tokens. (B, T) row-major.
 */
export function robertaPositionIds(inputIds: Int32Array, T: number, paddingIdx: number): Int32Array {
  const out = new Int32Array(inputIds.length);
  for (let r = 0; r * T < inputIds.length; r++) {
    let count = 0;
    for (let t = 0; t < T; t++) {
      const i = r * T + t;
      if (inputIds[i] !== paddingIdx) out[i] = paddingIdx + ++count;
      else out[i] = paddingIdx;
    }
  }
  return out;
}

/** RobertaForTokenClassification (and XLM-R, CamemBERT): parameters on the GPU and a differentiable forward. */
export class RobertaForTokenClassification extends TokenClassifierBase<RobertaConfig> {
  /** Wraps parameters already on the GPU (checked against {@link robertaParameterShapes}). */
  constructor(config: RobertaConfig, params: Map<string, Tensor>, seed = 42) {
    super(config, params, robertaParameterShapes(config), seed);
  }

  /** Runs the model; records on the tape unless inside `noGrad`. Call inside a scope (`tidy`). */
  forward(batch: TokenBatch): TokenClassifierOutput {
    const c = this.config, pad = c.pad_token_id;
    const { ids, mask } = batchInputs(batch, c.vocab_size, c.max_position_embeddings - pad - 1);
    const posIds = Tensor.from(
      robertaPositionIds(batch.inputIds, batch.seqLen, pad),
      [batch.batch, batch.seqLen],
      "i32",
      "position_ids",
    );
    const typeIds = tokenTypes(batch, c.type_vocab_size);
    const e = "roberta.embeddings";
    let x = this.drop(
      addLayerNorm(
        add(
          embedding(ids, this.table(`${e}.word_embeddings.weight`), pad),
          embedding(typeIds, this.p(`${e}.token_type_embeddings.weight`)),
        ),
        embedding(posIds, this.p(`${e}.position_embeddings.weight`), pad),
        this.p(`${e}.LayerNorm.weight`),
        this.p(`${e}.LayerNorm.bias`),
        c.layer_norm_eps,
      ),
      c.hidden_dropout_prob,
    );
    for (let i = 0; i < c.num_hidden_layers; i++) {
      x = bertLayer(this, `roberta.encoder.layer.${i}`, x, mask, c);
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

/** Checkpoint key → model key: `roberta.` added to bare keys, LayerNorm gamma/beta renamed. */
export function normalizeRobertaKey(key: string): string {
  let k = key.replace(/LayerNorm\.gamma$/, "LayerNorm.weight").replace(/LayerNorm\.beta$/, "LayerNorm.bias");
  if (/^(embeddings|encoder|pooler)\./.test(k)) k = `roberta.${k}`;
  return k;
}

/** RoBERTa's (and XLM-R's, CamemBERT's) special tokens. */
export const ROBERTA_SPECIAL_TOKENS: Record<string, string> = {
  bos_token: "<s>",
  eos_token: "</s>",
  unk_token: "<unk>",
  sep_token: "</s>",
  pad_token: "<pad>",
  cls_token: "<s>",
  mask_token: "<mask>",
};

/** The registry entry of `model_type` roberta, xlm-roberta and camembert. */
export const ROBERTA_FAMILY: ModelFamily<RobertaConfig> = {
  modelTypes: ROBERTA_MODEL_TYPES,
  architecture: (type) => _ARCH[type],
  parseConfig: (json, source) => parseRobertaConfig(json, source),
  makeConfig: (type, fields, labels) => {
    const f = { ...fields };
    const pad = (f.pad_token_id as number | undefined) ?? ROBERTA_DEFAULTS.pad_token_id;
    // --max-position-embeddings is the usable length; the table also holds rows 0..padding_idx.
    const usable = (f.max_position_embeddings as number | undefined) ?? 512;
    f.max_position_embeddings = usable + pad + 1;
    return parseRobertaConfig(
      {
        ...(type === "roberta" ? ROBERTA_DEFAULTS : { ...ROBERTA_DEFAULTS, vocab_size: 30522 }),
        ..._SCRATCH,
        ...f,
        model_type: type,
        ...labelMaps(labels),
      },
      "config",
    );
  },
  configToJson: (config) => familyConfigJson(config, _ARCH[config.model_type]),
  parameterShapes: robertaParameterShapes,
  initialWeights: robertaInitialWeights,
  isHead: (name) => name.startsWith("classifier."),
  normalizeKey: normalizeRobertaKey,
  create: (config, params, seed) => new RobertaForTokenClassification(config, params, seed),
  maxInputLength: (config) => config.max_position_embeddings - config.pad_token_id - 1,
  tokenizerKind: (type) => (type === "roberta" ? "BPE" : "Unigram"),
  tokenizerClass: (type) => _TOKENIZER[type],
  specialTokens: () => ({ ...ROBERTA_SPECIAL_TOKENS }),
};
