/**
 * DebertaV2ForTokenClassification (DeBERTa-v2 and -v3, `model_type: deberta-v2`) on the engine's ops,
 * mirroring transformers' `modeling_deberta_v2.py`: parameter names are the checkpoint keys
 * (`deberta.embeddings.word_embeddings.weight`, `deberta.encoder.layer.{i}.attention.self.query_proj.weight`,
 * …, `deberta.encoder.rel_embeddings.weight`, `deberta.encoder.LayerNorm.*`, `classifier.*`) and the
 * semantics are HF's eager model (transformers ≥ 4.47):
 * - embeddings: word (+ absolute positions when `position_biased_input`, + token types when
 *   `type_vocab_size > 0`, → `embed_proj` when `embedding_size ≠ hidden_size`) → LayerNorm → times the
 *   attention mask (padding rows become 0) → dropout;
 * - encoder: the relative embeddings `rel_embeddings.weight` (LayerNorm-ed once per forward when
 *   `norm_rel_ebd` has `layer_norm`), relative positions `bucket(i − j)` with HF's log buckets
 *   (`position_buckets`, `max_relative_positions`), the 2-D mask `m_i·m_j`;
 * - each layer: disentangled self-attention (`src/ops/rel_attention.ts`: content→content plus c2p/p2c from
 *   `pos_att_type`, projections shared with key_proj/query_proj when `share_att_key`, scale
 *   `sqrt(D · (1 + #pos_att_type))`, the relative embeddings dropped out by `pos_dropout`), output dense +
 *   dropout + residual LayerNorm, intermediate dense + exact-erf GELU, output dense + dropout + residual
 *   LayerNorm; every LayerNorm uses `layer_norm_eps` (1e-7 by default);
 * - head: dropout(hidden_dropout_prob) → `classifier` → CrossEntropy (ignore_index −100).
 * Not supported (refused with a clear error): the ConvLayer of deberta-v2-xlarge (`conv_kernel_size > 0`)
 * and activations other than `gelu`.
 * @module
 */
import { crossEntropy } from "../ops/cross_entropy.ts";
import { add, mul, reshape } from "../ops/elementwise.ts";
import { checkIds, embedding } from "../ops/embedding.ts";
import { layerNorm } from "../ops/layernorm.ts";
import { linear } from "../ops/matmul.ts";
import { relAttention, type RelLayout, relLayout, relWindowRows } from "../ops/rel_attention.ts";
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
import { bertLayerOutput } from "./encoder.ts";
import { labelMaps, labelsFromJson, numLabels, requireInt, requireNonNegative } from "./config.ts";

/** Every DebertaV2Config field this project uses, with HF's names. */
export interface DebertaV2Config extends TokenClassifierConfig {
  model_type: "deberta-v2";
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  relative_attention: boolean;
  /** < 1 means max_position_embeddings. */
  max_relative_positions: number;
  pad_token_id: number;
  position_biased_input: boolean;
  /** Parsed as HF does: a `"p2c|c2p"` string becomes `["p2c", "c2p"]`. */
  pos_att_type: string[];
  /** ≤ 0: no log buckets. */
  position_buckets: number;
  share_att_key: boolean;
  norm_rel_ebd: string;
  pooler_dropout: number;
  pooler_hidden_act: string;
  pooler_hidden_size: number;
  /** Word-embedding width (HF: `embedding_size`, default hidden_size); null when the file has none. */
  embedding_size: number | null;
  /** Per-head width (HF: `attention_head_size`, default hidden_size / heads); null when the file has none. */
  attention_head_size: number | null;
  id2label: Record<string, string>;
  label2id: Record<string, number>;
  extra: Record<string, unknown>;
}

type _Fields = Omit<DebertaV2Config, "id2label" | "label2id" | "extra">;

/** HF's DebertaV2Config defaults (the class defaults; `getattr` defaults for the v3 fields). */
export const DEBERTA_V2_DEFAULTS: _Fields = {
  model_type: "deberta-v2",
  vocab_size: 128100,
  hidden_size: 1536,
  num_hidden_layers: 24,
  num_attention_heads: 24,
  intermediate_size: 6144,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 0,
  initializer_range: 0.02,
  layer_norm_eps: 1e-7,
  relative_attention: false,
  max_relative_positions: -1,
  pad_token_id: 0,
  position_biased_input: true,
  pos_att_type: [],
  position_buckets: -1,
  share_att_key: false,
  norm_rel_ebd: "none",
  pooler_dropout: 0,
  pooler_hidden_act: "gelu",
  pooler_hidden_size: 1536,
  embedding_size: null,
  attention_head_size: null,
};

/** From-scratch defaults: microsoft/deberta-v3-base's architecture (sizes overridable). */
export const DEBERTA_V3_BASE: Partial<_Fields> = {
  vocab_size: 128100,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  relative_attention: true,
  position_buckets: 256,
  pos_att_type: ["p2c", "c2p"],
  share_att_key: true,
  norm_rel_ebd: "layer_norm",
  position_biased_input: false,
  type_vocab_size: 0,
  pooler_hidden_size: 768,
};

const _INT = [
  "vocab_size",
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "intermediate_size",
  "max_position_embeddings",
  "pad_token_id",
  "pooler_hidden_size",
] as const;
const _FLOAT = [
  "hidden_dropout_prob",
  "attention_probs_dropout_prob",
  "initializer_range",
  "layer_norm_eps",
  "pooler_dropout",
] as const;
const _BOOL = ["relative_attention", "position_biased_input", "share_att_key"] as const;

function _intField(cfg: Record<string, unknown>, k: string, source: string): void {
  const v = cfg[k];
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new ConfigError(source, `field '${k}' must be an integer, got ${JSON.stringify(v)}`);
  }
}

/**
 * Builds a config from parsed `config.json` contents: HF defaults filled, every field's type checked,
 * `pos_att_type` parsed as HF does (a `|`-separated string or a list), label maps reconciled.
 */
export function parseDebertaV2Config(json: unknown, source = "config.json"): DebertaV2Config {
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new ConfigError(source, "expected a JSON object");
  }
  const raw = json as Record<string, unknown>;
  if (raw.model_type !== undefined && raw.model_type !== "deberta-v2") {
    throw new ConfigError(source, `model_type is '${raw.model_type}', expected 'deberta-v2'`);
  }
  const cfg: Record<string, unknown> = { ...DEBERTA_V2_DEFAULTS };
  if (typeof raw.hidden_size === "number") cfg.pooler_hidden_size = raw.hidden_size;
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k in DEBERTA_V2_DEFAULTS) cfg[k] = v;
    else if (!["id2label", "label2id", "num_labels", "architectures"].includes(k)) extra[k] = v;
  }
  for (const k of _INT) requireInt(cfg, k, k === "pad_token_id" ? 0 : 1, source);
  requireInt(cfg, "type_vocab_size", 0, source);
  for (const k of ["max_relative_positions", "position_buckets"]) _intField(cfg, k, source);
  for (const k of _FLOAT) requireNonNegative(cfg, k, source);
  for (const k of _BOOL) {
    if (typeof cfg[k] !== "boolean") {
      throw new ConfigError(source, `field '${k}' must be true or false, got ${JSON.stringify(cfg[k])}`);
    }
  }
  for (const k of ["embedding_size", "attention_head_size"]) {
    if (cfg[k] !== null) requireInt(cfg, k, 1, source);
  }
  const pat = cfg.pos_att_type ?? [];
  if (typeof pat === "string") cfg.pos_att_type = pat.toLowerCase().split("|").map((s) => s.trim());
  else if (Array.isArray(pat) && pat.every((s) => typeof s === "string")) cfg.pos_att_type = [...pat];
  else {
    throw new ConfigError(
      source,
      `field 'pos_att_type' must be a list or a '|'-separated string, got ${pat}`,
    );
  }
  const bad = (cfg.pos_att_type as string[]).filter((s) => s !== "c2p" && s !== "p2c" && s !== "");
  if (bad.length) {
    throw new ConfigError(source, `pos_att_type '${bad.join("|")}' is not supported (c2p and p2c are)`);
  }
  cfg.pos_att_type = (cfg.pos_att_type as string[]).filter((s) => s !== "");
  if (typeof cfg.norm_rel_ebd !== "string") {
    throw new ConfigError(
      source,
      `field 'norm_rel_ebd' must be a string, got ${JSON.stringify(cfg.norm_rel_ebd)}`,
    );
  }
  if (cfg.hidden_act !== "gelu") {
    throw new ConfigError(source, `hidden_act '${cfg.hidden_act}' is not supported (only exact 'gelu')`);
  }
  const conv = extra.conv_kernel_size;
  if (typeof conv === "number" && conv > 0) {
    throw new ConfigError(source, `conv_kernel_size ${conv} (DeBERTa's ConvLayer) is not supported`);
  }
  const hidden = cfg.hidden_size as number, heads = cfg.num_attention_heads as number;
  if (cfg.attention_head_size === null && hidden % heads !== 0) {
    throw new ConfigError(source, `hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  }
  if ((cfg.pad_token_id as number) >= (cfg.vocab_size as number)) {
    throw new ConfigError(source, `pad_token_id ${cfg.pad_token_id} is outside the vocabulary`);
  }
  const out = { ...(cfg as _Fields), ...labelsFromJson(raw, source), extra };
  if (out.relative_attention && attSpanOf(out) < 1) {
    throw new ConfigError(source, `relative attention needs position_buckets or max_relative_positions ≥ 1`);
  }
  return out;
}

/** max_relative_positions after HF's default (< 1 → max_position_embeddings). */
export function maxRelativePositions(c: DebertaV2Config): number {
  return c.max_relative_positions < 1 ? c.max_position_embeddings : c.max_relative_positions;
}

/** att_span (HF `pos_ebd_size`): position_buckets when > 0, else max_relative_positions. */
export function attSpanOf(c: DebertaV2Config): number {
  return c.position_buckets > 0 ? c.position_buckets : maxRelativePositions(c);
}

function _headSize(c: DebertaV2Config): number {
  return c.attention_head_size ?? c.hidden_size / c.num_attention_heads;
}

function _embeddingSize(c: DebertaV2Config): number {
  return c.embedding_size ?? c.hidden_size;
}

function _normRel(c: DebertaV2Config): boolean {
  return c.norm_rel_ebd.toLowerCase().split("|").map((s) => s.trim()).includes("layer_norm");
}

/** The config.json object HF writes for a DebertaV2ForTokenClassification. */
export function debertaV2ConfigToJson(config: DebertaV2Config): Record<string, unknown> {
  const { extra, id2label, label2id, embedding_size, attention_head_size, ...fields } = config;
  const out: Record<string, unknown> = {
    ...extra,
    architectures: ["DebertaV2ForTokenClassification"],
    ...fields,
    model_type: "deberta-v2",
    id2label,
    label2id,
  };
  if (embedding_size !== null) out.embedding_size = embedding_size;
  if (attention_head_size !== null) out.attention_head_size = attention_head_size;
  out.torch_dtype ??= "float32";
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * A from-scratch config: deberta-v3-base's architecture (relative attention, 256 log buckets, p2c|c2p,
 * shared keys, rel-embedding LayerNorm, no absolute positions or token types) with `fields` (generic
 * BERT names are the same in DeBERTa) and the label names.
 */
export function makeDebertaV2Config(
  fields: Record<string, unknown>,
  labels: readonly string[],
): DebertaV2Config {
  const merged: Record<string, unknown> = { ...DEBERTA_V2_DEFAULTS, ...DEBERTA_V3_BASE, ...fields };
  if (fields.hidden_size !== undefined && fields.pooler_hidden_size === undefined) {
    merged.pooler_hidden_size = fields.hidden_size;
  }
  return parseDebertaV2Config({ ...merged, ...labelMaps(labels) }, "config");
}

/** Parameter name → shape for a config, in HF's module order. */
export function debertaV2ParameterShapes(c: DebertaV2Config): [string, number[]][] {
  const h = c.hidden_size, e = _embeddingSize(c), ah = c.num_attention_heads * _headSize(c);
  const inter = c.intermediate_size;
  const out: [string, number[]][] = [["deberta.embeddings.word_embeddings.weight", [c.vocab_size, e]]];
  if (c.position_biased_input) {
    out.push(["deberta.embeddings.position_embeddings.weight", [c.max_position_embeddings, e]]);
  }
  if (c.type_vocab_size > 0) {
    out.push(["deberta.embeddings.token_type_embeddings.weight", [c.type_vocab_size, e]]);
  }
  if (e !== h) out.push(["deberta.embeddings.embed_proj.weight", [h, e]]);
  out.push(["deberta.embeddings.LayerNorm.weight", [h]], ["deberta.embeddings.LayerNorm.bias", [h]]);
  const posProj = c.relative_attention && !c.share_att_key;
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `deberta.encoder.layer.${i}`;
    for (const m of ["query_proj", "key_proj", "value_proj"]) {
      out.push([`${p}.attention.self.${m}.weight`, [ah, h]], [`${p}.attention.self.${m}.bias`, [ah]]);
    }
    if (posProj && c.pos_att_type.includes("c2p")) {
      out.push([`${p}.attention.self.pos_key_proj.weight`, [ah, h]], [
        `${p}.attention.self.pos_key_proj.bias`,
        [ah],
      ]);
    }
    if (posProj && c.pos_att_type.includes("p2c")) {
      out.push(
        [`${p}.attention.self.pos_query_proj.weight`, [ah, h]],
        [`${p}.attention.self.pos_query_proj.bias`, [ah]],
      );
    }
    out.push(
      [`${p}.attention.output.dense.weight`, [h, ah]],
      [`${p}.attention.output.dense.bias`, [h]],
      [`${p}.attention.output.LayerNorm.weight`, [h]],
      [`${p}.attention.output.LayerNorm.bias`, [h]],
      [`${p}.intermediate.dense.weight`, [inter, h]],
      [`${p}.intermediate.dense.bias`, [inter]],
      [`${p}.output.dense.weight`, [h, inter]],
      [`${p}.output.dense.bias`, [h]],
      [`${p}.output.LayerNorm.weight`, [h]],
      [`${p}.output.LayerNorm.bias`, [h]],
    );
  }
  if (c.relative_attention) out.push(["deberta.encoder.rel_embeddings.weight", [2 * attSpanOf(c), h]]);
  if (_normRel(c)) {
    out.push(["deberta.encoder.LayerNorm.weight", [h]], ["deberta.encoder.LayerNorm.bias", [h]]);
  }
  out.push(["classifier.weight", [numLabels(c), h]], ["classifier.bias", [numLabels(c)]]);
  return out;
}

/**
 * HF's `DebertaV2PreTrainedModel._init_weights`: Linear and Embedding weights ~ normal(0,
 * initializer_range), biases 0, the word embedding's padding row 0 (rel_embeddings has no padding row),
 * LayerNorm weight 1 and bias 0.
 */
export function debertaV2InitialWeights(
  c: DebertaV2Config,
  seed: number,
  name: string,
  shape: number[],
): Float32Array {
  const pad = name === "deberta.embeddings.word_embeddings.weight" ? c.pad_token_id : null;
  return defaultInit(name, shape, c.initializer_range, seed, (n) => n.includes("LayerNorm"), pad);
}

/** DebertaV2ForTokenClassification: parameters on the GPU and a differentiable forward. */
export class DebertaV2ForTokenClassification extends TokenClassifierBase<DebertaV2Config> {
  /** Wraps parameters already on the GPU (checked against the config's shapes). */
  constructor(config: DebertaV2Config, params: Map<string, Tensor>, seed = 42) {
    super(config, params, debertaV2ParameterShapes(config), seed);
  }

  /** Runs the model; records on the tape unless inside `noGrad`. Call inside a scope (`tidy`). */
  forward(batch: TokenBatch): TokenClassifierOutput {
    const c = this.config;
    const { batch: B, seqLen: T } = batch;
    if (batch.inputIds.length !== B * T) {
      throw new RangeError(`inputIds has ${batch.inputIds.length} values, expected ${B}×${T}`);
    }
    if (c.position_biased_input && T > c.max_position_embeddings) {
      throw new RangeError(
        `sequence length ${T} exceeds max_position_embeddings ${c.max_position_embeddings}`,
      );
    }
    const mask = batch.attentionMask ?? null;
    if (mask && mask.length !== B * T) {
      throw new RangeError(`attentionMask has ${mask.length} values, expected ${B}×${T}`);
    }
    checkIds(batch.inputIds, c.vocab_size, "input_ids");
    const e = "deberta.embeddings";
    const ids = Tensor.from(batch.inputIds, [B, T], "i32", "input_ids");
    let x = embedding(ids, this.table(`${e}.word_embeddings.weight`), c.pad_token_id);
    if (c.position_biased_input) {
      const pos = Tensor.from(
        Int32Array.from({ length: B * T }, (_, i) => i % T),
        [B, T],
        "i32",
        "position_ids",
      );
      x = add(x, embedding(pos, this.p(`${e}.position_embeddings.weight`)));
    }
    if (c.type_vocab_size > 0) {
      const types = batch.tokenTypeIds ?? new Int32Array(B * T);
      checkIds(types, c.type_vocab_size, "token_type_ids");
      x = add(
        x,
        embedding(
          Tensor.from(types, [B, T], "i32", "token_type_ids"),
          this.p(`${e}.token_type_embeddings.weight`),
        ),
      );
    }
    if (_embeddingSize(c) !== c.hidden_size) x = linear(x, this.p(`${e}.embed_proj.weight`));
    x = layerNorm(x, this.p(`${e}.LayerNorm.weight`), this.p(`${e}.LayerNorm.bias`), c.layer_norm_eps);
    if (mask && mask.some((m) => m === 0)) {
      const h = c.hidden_size;
      const full = new Float32Array(B * T * h);
      for (let n = 0; n < B * T; n++) if (mask[n] !== 0) full.fill(1, n * h, (n + 1) * h);
      x = mul(x, Tensor.from(full, [B, T, h], "f32", "embedding_mask"));
    }
    x = this.drop(x, c.hidden_dropout_prob);

    const layout = relLayout(B, T, mask, {
      positionBuckets: c.relative_attention ? c.position_buckets : -1,
      maxRelativePositions: c.relative_attention ? maxRelativePositions(c) : 1,
    });
    let rel: Tensor | null = null;
    if (c.relative_attention) {
      // Only the relative rows this length reaches (LayerNorm is per row; the rest get zero gradient).
      const rows = relWindowRows(this.p("deberta.encoder.rel_embeddings.weight"), layout);
      rel = rows;
      if (_normRel(c)) {
        rel = layerNorm(
          rows,
          this.p("deberta.encoder.LayerNorm.weight"),
          this.p("deberta.encoder.LayerNorm.bias"),
          c.layer_norm_eps,
        );
      }
    }
    for (let i = 0; i < c.num_hidden_layers; i++) x = this.#layer(i, x, layout, rel);

    const logits = linear(
      this.drop(x, c.hidden_dropout_prob),
      this.p("classifier.weight"),
      this.p("classifier.bias"),
    );
    if (!batch.labels) return { logits };
    if (batch.labels.length !== B * T) {
      throw new RangeError(`labels has ${batch.labels.length} values, expected ${B}×${T}`);
    }
    const labels = Tensor.from(batch.labels, [B * T], "i32", "labels");
    return { logits, loss: crossEntropy(reshape(logits, [B * T, numLabels(c)]), labels) };
  }

  #layer(i: number, x: Tensor, layout: RelLayout, rel: Tensor | null): Tensor {
    const c = this.config;
    const p = (s: string) => this.p(`deberta.encoder.layer.${i}.${s}`);
    const sa = "attention.self";
    const q = linear(x, p(`${sa}.query_proj.weight`), p(`${sa}.query_proj.bias`));
    const k = linear(x, p(`${sa}.key_proj.weight`), p(`${sa}.key_proj.bias`));
    const v = linear(x, p(`${sa}.value_proj.weight`), p(`${sa}.value_proj.bias`));
    const c2p = c.pos_att_type.includes("c2p"), p2c = c.pos_att_type.includes("p2c");
    let pk: Tensor | null = null, pq: Tensor | null = null;
    if (rel) {
      const r = this.drop(rel, c.hidden_dropout_prob); // pos_dropout
      const kp = c.share_att_key ? "key_proj" : "pos_key_proj";
      const qp = c.share_att_key ? "query_proj" : "pos_query_proj";
      if (c2p) pk = linear(r, p(`${sa}.${kp}.weight`), p(`${sa}.${kp}.bias`));
      if (p2c) pq = linear(r, p(`${sa}.${qp}.weight`), p(`${sa}.${qp}.bias`));
    }
    const factor = 1 + (c2p ? 1 : 0) + (p2c ? 1 : 0);
    const scale = Math.fround(Math.sqrt(Math.fround(_headSize(c) * factor)));
    const attnP = this.training ? c.attention_probs_dropout_prob : 0;
    const ctx = relAttention(q, k, v, pk, pq, layout, c.num_attention_heads, {
      scale,
      dropoutP: attnP,
      seed: attnP > 0 ? this.seeds.next() : 0,
    });
    return bertLayerOutput(this, `deberta.encoder.layer.${i}`, ctx, x, c);
  }
}

/** DeBERTa-v3's special tokens (microsoft/deberta-v3-base's tokenizer files). */
export const DEBERTA_V2_SPECIAL_TOKENS: Record<string, string> = {
  bos_token: "[CLS]",
  eos_token: "[SEP]",
  unk_token: "[UNK]",
  sep_token: "[SEP]",
  pad_token: "[PAD]",
  cls_token: "[CLS]",
  mask_token: "[MASK]",
};

/** DeBERTa's checkpoint key → model key: adds `deberta.` to bare `embeddings.`/`encoder.` keys. */
export function normalizeDebertaV2Key(key: string): string {
  return /^(embeddings|encoder)\./.test(key) ? `deberta.${key}` : key;
}

/** The registry entry of `model_type: deberta-v2` (DeBERTa-v2 and -v3 checkpoints). */
export const DEBERTA_V2_FAMILY: ModelFamily<DebertaV2Config> = {
  modelTypes: ["deberta-v2"],
  architecture: () => "DebertaV2ForTokenClassification",
  parseConfig: (json, source) => parseDebertaV2Config(json, source),
  makeConfig: (_type, fields, labels) => makeDebertaV2Config(fields, labels),
  configToJson: debertaV2ConfigToJson,
  parameterShapes: debertaV2ParameterShapes,
  initialWeights: debertaV2InitialWeights,
  isHead: (name) => name.startsWith("classifier."),
  normalizeKey: normalizeDebertaV2Key,
  // DebertaV2PreTrainedModel._keys_to_ignore_on_load_unexpected (checkpoints without absolute positions
  // still ship the table).
  ignoredOnLoad: (key) => /(^|\.)position_embeddings(\.|$)/.test(key),
  create: (config, params, seed) => new DebertaV2ForTokenClassification(config, params, seed),
  tokenizerKind: () => "Unigram",
  tokenizerClass: () => "DebertaV2Tokenizer",
  tokenizerConfig: () => ({ do_lower_case: false, vocab_type: "spm" }),
  specialTokens: () => ({ ...DEBERTA_V2_SPECIAL_TOKENS }),
};
