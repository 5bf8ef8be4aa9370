/**
 * DistilBertForTokenClassification mirroring HF's modeling_distilbert: parameter names are checkpoint keys
 * (`distilbert.embeddings.{word,position}_embeddings.weight`, `distilbert.embeddings.LayerNorm.*`,
 * `distilbert.transformer.layer.{i}.attention.{q,k,v,out}_lin.*`, `….sa_layer_norm.*`, `….ffn.lin1/lin2.*`,
 * `….output_layer_norm.*`, `classifier.*`) and the semantics are HF's eager DistilBERT: word + position
 * embeddings (no token types) → LayerNorm (eps 1e-12, fixed) → dropout; per block self-attention with the
 * mask `masked_fill(mask == 0, f32 min)` and attention dropout, `out_lin` (no dropout), residual
 * `sa_layer_norm`; FFN `lin1` → GELU → `lin2` → dropout, residual `output_layer_norm`; the token head's
 * dropout is `config.dropout` (`seq_classif_dropout` is for sequence classification only).
 * @module
 */
import { type Projection, qkvAttention } from "./fused_qkv.ts";
import { embedding } from "../ops/embedding.ts";
import { addLayerNorm } from "../ops/layernorm.ts";
import { linear, linearGelu } from "../ops/matmul.ts";
import type { Tensor } from "../engine/tensor.ts";
import {
  ConfigError,
  defaultInit,
  type ModelFamily,
  type TokenBatch,
  TokenClassifierBase,
  type TokenClassifierConfig,
  type TokenClassifierOutput,
} from "./classifier.ts";
import {
  familyConfigJson,
  labelMaps,
  labelsFromJson,
  numLabels,
  requireInt,
  requireNonNegative,
} from "./config.ts";
import { arangePositions, batchInputs, tokenClassificationHead } from "./encoder.ts";

/** DistilBertConfig with HF's field names. */
export interface DistilBertConfig extends TokenClassifierConfig {
  model_type: "distilbert";
  vocab_size: number;
  max_position_embeddings: number;
  sinusoidal_pos_embds: boolean;
  n_layers: number;
  n_heads: number;
  dim: number;
  hidden_dim: number;
  dropout: number;
  attention_dropout: number;
  activation: string;
  initializer_range: number;
  qa_dropout: number;
  seq_classif_dropout: number;
  pad_token_id: number;
}

/** HF's DistilBertConfig defaults (distilbert-base shapes). */
export const DISTILBERT_DEFAULTS: Omit<DistilBertConfig, "id2label" | "label2id" | "extra"> = {
  model_type: "distilbert",
  vocab_size: 30522,
  max_position_embeddings: 512,
  sinusoidal_pos_embds: false,
  n_layers: 6,
  n_heads: 12,
  dim: 768,
  hidden_dim: 3072,
  dropout: 0.1,
  attention_dropout: 0.1,
  activation: "gelu",
  initializer_range: 0.02,
  qa_dropout: 0.1,
  seq_classif_dropout: 0.2,
  pad_token_id: 0,
};

/** DistilBERT's LayerNorm eps (hard-coded in HF, no config field). */
export const DISTILBERT_LAYER_NORM_EPS = 1e-12;

/** The generic (BERT) from-scratch names → DistilBERT's. */
const _GENERIC: Record<string, keyof DistilBertConfig> = {
  hidden_size: "dim",
  num_hidden_layers: "n_layers",
  num_attention_heads: "n_heads",
  intermediate_size: "hidden_dim",
  hidden_dropout_prob: "dropout",
  attention_probs_dropout_prob: "attention_dropout",
};

/** Parses a DistilBERT config.json (HF defaults, every field checked, label maps reconciled). */
export function parseDistilBertConfig(json: unknown, source = "config.json"): DistilBertConfig {
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new ConfigError(source, "expected a JSON object");
  }
  const raw = json as Record<string, unknown>;
  if (raw.model_type !== undefined && raw.model_type !== "distilbert") {
    throw new ConfigError(source, `model_type is '${raw.model_type}', expected 'distilbert'`);
  }
  const cfg: Record<string, unknown> = { ...DISTILBERT_DEFAULTS };
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k in DISTILBERT_DEFAULTS) cfg[k] = v;
    else if (!["id2label", "label2id", "num_labels", "architectures"].includes(k)) extra[k] = v;
  }
  for (const k of ["vocab_size", "max_position_embeddings", "n_layers", "n_heads", "dim", "hidden_dim"]) {
    requireInt(cfg, k, 1, source);
  }
  requireInt(cfg, "pad_token_id", 0, source);
  for (
    const k of ["dropout", "attention_dropout", "initializer_range", "qa_dropout", "seq_classif_dropout"]
  ) {
    requireNonNegative(cfg, k, source);
  }
  if (cfg.activation !== "gelu") {
    throw new ConfigError(source, `activation '${cfg.activation}' is not supported (only exact 'gelu')`);
  }
  if (cfg.sinusoidal_pos_embds !== false) {
    throw new ConfigError(source, `sinusoidal_pos_embds ${cfg.sinusoidal_pos_embds} is not supported`);
  }
  if ((cfg.dim as number) % (cfg.n_heads as number) !== 0) {
    throw new ConfigError(source, `dim ${cfg.dim} is not a multiple of n_heads ${cfg.n_heads}`);
  }
  if ((cfg.pad_token_id as number) >= (cfg.vocab_size as number)) {
    throw new ConfigError(source, `pad_token_id ${cfg.pad_token_id} is outside the vocabulary`);
  }
  return {
    ...(cfg as Omit<DistilBertConfig, "id2label" | "label2id" | "extra">),
    ...labelsFromJson(raw, source),
    extra,
  };
}

/** Parameter name → shape, in HF's module order. */
export function distilBertParameterShapes(config: DistilBertConfig): [string, number[]][] {
  const d = config.dim, hd = config.hidden_dim, e = "distilbert.embeddings";
  const out: [string, number[]][] = [
    [`${e}.word_embeddings.weight`, [config.vocab_size, d]],
    [`${e}.position_embeddings.weight`, [config.max_position_embeddings, d]],
    [`${e}.LayerNorm.weight`, [d]],
    [`${e}.LayerNorm.bias`, [d]],
  ];
  for (let i = 0; i < config.n_layers; i++) {
    const p = `distilbert.transformer.layer.${i}`;
    for (const m of ["q_lin", "k_lin", "v_lin", "out_lin"]) {
      out.push([`${p}.attention.${m}.weight`, [d, d]], [`${p}.attention.${m}.bias`, [d]]);
    }
    out.push(
      [`${p}.sa_layer_norm.weight`, [d]],
      [`${p}.sa_layer_norm.bias`, [d]],
      [`${p}.ffn.lin1.weight`, [hd, d]],
      [`${p}.ffn.lin1.bias`, [hd]],
      [`${p}.ffn.lin2.weight`, [d, hd]],
      [`${p}.ffn.lin2.bias`, [d]],
      [`${p}.output_layer_norm.weight`, [d]],
      [`${p}.output_layer_norm.bias`, [d]],
    );
  }
  out.push(["classifier.weight", [numLabels(config), d]], ["classifier.bias", [numLabels(config)]]);
  return out;
}

/** True for the parameters of DistilBERT's nn.LayerNorm modules (whatever they are called). */
export function isDistilBertLayerNorm(name: string): boolean {
  return /(\.LayerNorm|\.sa_layer_norm|\.output_layer_norm)\.(weight|bias)$/.test(name);
}

/**
 * HF's `_init_weights` (DistilBertPreTrainedModel): Linear/Embedding ~ normal(0, initializer_range),
 * biases 0, LayerNorm 1/0, the word embedding's padding_idx row 0.
 */
export function distilBertInitialWeights(
  config: DistilBertConfig,
  seed: number,
  name: string,
  shape: number[],
): Float32Array {
  const padRow = name === "distilbert.embeddings.word_embeddings.weight" ? config.pad_token_id : null;
  return defaultInit(name, shape, config.initializer_range, seed, isDistilBertLayerNorm, padRow);
}

/** DistilBertForTokenClassification: parameters on the GPU and a differentiable forward. */
export class DistilBertForTokenClassification extends TokenClassifierBase<DistilBertConfig> {
  /** Wraps parameters already on the GPU (checked against {@link distilBertParameterShapes}). */
  constructor(config: DistilBertConfig, params: Map<string, Tensor>, seed = 42) {
    super(config, params, distilBertParameterShapes(config), seed);
  }

  /** HF Trainer's grouping: no decay on biases and on every nn.LayerNorm (sa_/output_layer_norm too). */
  override decays(name: string): boolean {
    return !name.endsWith(".bias") && !isDistilBertLayerNorm(name);
  }

  /** Runs the model; records on the tape unless inside `noGrad`. Call inside a scope (`tidy`). */
  forward(batch: TokenBatch): TokenClassifierOutput {
    const c = this.config, eps = DISTILBERT_LAYER_NORM_EPS;
    const { ids, mask } = batchInputs(batch, c.vocab_size, c.max_position_embeddings);
    const posIds = arangePositions(batch.batch, batch.seqLen);
    const e = "distilbert.embeddings";
    let x = this.drop(
      addLayerNorm(
        embedding(ids, this.table(`${e}.word_embeddings.weight`), c.pad_token_id),
        embedding(posIds, this.p(`${e}.position_embeddings.weight`)),
        this.p(`${e}.LayerNorm.weight`),
        this.p(`${e}.LayerNorm.bias`),
        eps,
      ),
      c.dropout,
    );
    for (let i = 0; i < c.n_layers; i++) x = this.#block(`distilbert.transformer.layer.${i}`, x, mask);
    return tokenClassificationHead(this, x, c.dropout, batch, numLabels(c));
  }

  #block(prefix: string, x: Tensor, mask: Tensor): Tensor {
    const c = this.config, eps = DISTILBERT_LAYER_NORM_EPS;
    const p = (s: string) => this.p(`${prefix}.${s}`);
    const lin = (h: Tensor, m: string) => linear(h, p(`${m}.weight`), p(`${m}.bias`));
    const attnP = this.training ? c.attention_dropout : 0;
    const proj = (m: string): Projection => [p(`attention.${m}.weight`), p(`attention.${m}.bias`)];
    // q_lin, k_lin and v_lin as one [3h, h] product (src/model/fused_qkv.ts); names unchanged.
    const ctx = qkvAttention(x, proj("q_lin"), proj("k_lin"), proj("v_lin"), mask, c.n_heads, {
      dropoutP: attnP,
      seed: attnP > 0 ? this.seeds.next() : 0,
    });
    const sa = addLayerNorm(
      lin(ctx, "attention.out_lin"),
      x,
      p("sa_layer_norm.weight"),
      p("sa_layer_norm.bias"),
      eps,
    );
    const ffn = lin(linearGelu(sa, p("ffn.lin1.weight"), p("ffn.lin1.bias")), "ffn.lin2");
    // FFN dropout inside the residual add + LayerNorm kernels
    return addLayerNorm(
      ffn,
      sa,
      p("output_layer_norm.weight"),
      p("output_layer_norm.bias"),
      eps,
      this.dropSpec(c.dropout),
    );
  }
}

/** Checkpoint key → model key: `distilbert.` added to bare keys. */
export function normalizeDistilBertKey(key: string): string {
  return /^(embeddings|transformer)\./.test(key) ? `distilbert.${key}` : key;
}

/** The registry entry of `model_type: distilbert`. */
export const DISTILBERT_FAMILY: ModelFamily<DistilBertConfig> = {
  modelTypes: ["distilbert"],
  architecture: () => "DistilBertForTokenClassification",
  parseConfig: (json, source) => parseDistilBertConfig(json, source),
  makeConfig: (_type, fields, labels) => {
    const own: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) own[_GENERIC[k] ?? k] = v;
    return parseDistilBertConfig({ ...DISTILBERT_DEFAULTS, ...own, ...labelMaps(labels) }, "config");
  },
  configToJson: (config) => familyConfigJson(config, "DistilBertForTokenClassification"),
  parameterShapes: distilBertParameterShapes,
  initialWeights: distilBertInitialWeights,
  isHead: (name) => name.startsWith("classifier."),
  normalizeKey: normalizeDistilBertKey,
  create: (config, params, seed) => new DistilBertForTokenClassification(config, params, seed),
  tokenizerClass: () => "DistilBertTokenizer",
  tokenizerConfig: () => ({ do_lower_case: false }),
  specialTokens: () => ({
    unk_token: "[UNK]",
    sep_token: "[SEP]",
    pad_token: "[PAD]",
    cls_token: "[CLS]",
    mask_token: "[MASK]",
  }),
};
