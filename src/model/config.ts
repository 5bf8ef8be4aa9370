/**
 * `BertConfig` as Hugging Face reads and writes it (`config.json`), with the token-classification label
 * maps. `num_labels` is derived from `id2label`/`label2id`, and disagreement between them is an error: the
 * course calls a wrong label count the most common bug.
 * @module
 */
import { ConfigError, type TokenClassifierConfig } from "./classifier.ts";

/** Every BertConfig field this project uses, with HF's names. */
export interface BertConfig extends TokenClassifierConfig {
  model_type: "bert";
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
  pad_token_id: number;
  position_embedding_type: string;
  use_cache: boolean;
  classifier_dropout: number | null;
  /** Label names by id (index = id). */
  id2label: Record<string, string>;
  /** Ids by label name. */
  label2id: Record<string, number>;
  /** Fields of the file this project does not interpret, kept so a save writes them back. */
  extra: Record<string, unknown>;
}

/** HF's BertConfig defaults (bert-base-uncased shapes). */
export const BERT_DEFAULTS: Omit<BertConfig, "id2label" | "label2id" | "extra"> = {
  model_type: "bert",
  vocab_size: 30522,
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
  pad_token_id: 0,
  position_embedding_type: "absolute",
  use_cache: true,
  classifier_dropout: null,
};

export { ConfigError };

/** Checks `cfg[k]` is an integer >= `min` (a ConfigError naming `source` and the field otherwise). */
export function requireInt(cfg: Record<string, unknown>, k: string, min: number, source: string): void {
  const v = cfg[k];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new ConfigError(source, `field '${k}' must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
}

/** Checks `cfg[k]` is a number >= 0 (a ConfigError naming `source` and the field otherwise). */
export function requireNonNegative(cfg: Record<string, unknown>, k: string, source: string): void {
  const v = cfg[k];
  if (typeof v !== "number" || !(v >= 0)) {
    throw new ConfigError(source, `field '${k}' must be a number >= 0, got ${JSON.stringify(v)}`);
  }
}

const _INT_FIELDS = [
  "vocab_size",
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "intermediate_size",
  "max_position_embeddings",
  "type_vocab_size",
  "pad_token_id",
] as const;

const _FLOAT_FIELDS = [
  "hidden_dropout_prob",
  "attention_probs_dropout_prob",
  "initializer_range",
  "layer_norm_eps",
] as const;

/** Label maps for a list of label names (id = index). */
export function labelMaps(labels: readonly string[]): Pick<BertConfig, "id2label" | "label2id"> {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  labels.forEach((name, i) => {
    if (name in label2id) throw new ConfigError("labels", `label '${name}' appears twice`);
    id2label[String(i)] = name;
    label2id[name] = i;
  });
  return { id2label, label2id };
}

/** The label names ordered by id. */
export function configLabels(config: Pick<BertConfig, "id2label">): string[] {
  const n = Object.keys(config.id2label).length;
  return Array.from({ length: n }, (_, i) => config.id2label[String(i)]);
}

/** The number of labels (the classifier's output size). */
export function numLabels(config: Pick<BertConfig, "id2label">): number {
  return Object.keys(config.id2label).length;
}

/**
 * Builds a config from parsed `config.json` contents, filling HF defaults, checking every field's type and
 * the model's shape constraints, and reconciling the label maps (`num_labels` alone gives LABEL_i names).
 */
export function parseBertConfig(json: unknown, source = "config.json"): BertConfig {
  return parseBertStyleConfig(json, source, BERT_DEFAULTS, ["bert"]) as unknown as BertConfig;
}

/**
 * The BertConfig-shaped parser shared by BERT-style families (RoBERTa, ELECTRA): `defaults` names every
 * interpreted field with HF's default (`model_type` included), `modelTypes` the accepted `model_type`
 * values, `moreInts` further integer fields (≥ 1). Checks as {@link parseBertConfig}.
 */
export function parseBertStyleConfig(
  json: unknown,
  source: string,
  defaults: Record<string, unknown>,
  modelTypes: readonly string[],
  moreInts: readonly string[] = [],
): Record<string, unknown> & TokenClassifierConfig {
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new ConfigError(source, "expected a JSON object");
  }
  const raw = json as Record<string, unknown>;
  if (raw.model_type !== undefined && !modelTypes.includes(raw.model_type as string)) {
    throw new ConfigError(
      source,
      `model_type is '${raw.model_type}', expected ${modelTypes.map((t) => `'${t}'`).join(" or ")}`,
    );
  }
  const cfg: Record<string, unknown> = { ...defaults };
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k in defaults) cfg[k] = v;
    else if (!["id2label", "label2id", "num_labels", "architectures"].includes(k)) extra[k] = v;
  }
  for (const k of _INT_FIELDS) requireInt(cfg, k, k === "pad_token_id" ? 0 : 1, source);
  for (const k of moreInts) requireInt(cfg, k, 1, source);
  for (const k of _FLOAT_FIELDS) requireNonNegative(cfg, k, source);
  if (cfg.classifier_dropout !== null && typeof cfg.classifier_dropout !== "number") {
    throw new ConfigError(source, `field 'classifier_dropout' must be a number or null`);
  }
  if (cfg.hidden_act !== "gelu") {
    throw new ConfigError(source, `hidden_act '${cfg.hidden_act}' is not supported (only exact 'gelu')`);
  }
  if (cfg.position_embedding_type !== "absolute") {
    throw new ConfigError(
      source,
      `position_embedding_type '${cfg.position_embedding_type}' is not supported`,
    );
  }
  const hidden = cfg.hidden_size as number, heads = cfg.num_attention_heads as number;
  if (hidden % heads !== 0) {
    throw new ConfigError(source, `hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  }
  if ((cfg.pad_token_id as number) >= (cfg.vocab_size as number)) {
    throw new ConfigError(source, `pad_token_id ${cfg.pad_token_id} is outside the vocabulary`);
  }
  return {
    ...(cfg as Record<string, unknown> & Omit<TokenClassifierConfig, "id2label" | "label2id" | "extra">),
    ...labelsFromJson(raw, source),
    extra,
  };
}

/**
 * The config.json object HF writes for any family: the uninterpreted fields, every interpreted field,
 * `model_type`, `architectures: [architecture]`, the label maps and `torch_dtype`, keys sorted.
 */
export function familyConfigJson(
  config: TokenClassifierConfig,
  architecture: string,
): Record<string, unknown> {
  const { extra, id2label, label2id, ...fields } = config;
  const out: Record<string, unknown> = {
    ...extra,
    architectures: [architecture],
    ...fields,
    id2label,
    label2id,
  };
  out.torch_dtype ??= "float32";
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * The label maps of a parsed config.json (any family): `id2label`/`label2id` reconciled and checked against
 * `num_labels`; `num_labels` alone (default 2) gives LABEL_i names, as HF's PretrainedConfig does.
 */
export function labelsFromJson(
  raw: Record<string, unknown>,
  source: string,
): Pick<BertConfig, "id2label" | "label2id"> {
  const id2 = raw.id2label as Record<string, unknown> | undefined;
  const l2i = raw.label2id as Record<string, unknown> | undefined;
  const n = raw.num_labels;
  if (n !== undefined && (typeof n !== "number" || !Number.isInteger(n) || n < 1)) {
    throw new ConfigError(source, `num_labels must be a positive integer, got ${JSON.stringify(n)}`);
  }
  if (!id2 && !l2i) {
    return labelMaps(Array.from({ length: (n as number | undefined) ?? 2 }, (_, i) => `LABEL_${i}`));
  }
  let names: string[];
  if (id2) {
    const ids = Object.keys(id2).map(Number).sort((a, b) => a - b);
    if (ids.some((id, i) => id !== i)) {
      throw new ConfigError(source, `id2label keys must be 0..${ids.length - 1}, got ${Object.keys(id2)}`);
    }
    names = ids.map((i) => String(id2[String(i)]));
  } else {
    const entries = Object.entries(l2i!).sort((a, b) => Number(a[1]) - Number(b[1]));
    names = entries.map(([k]) => k);
    if (entries.some(([, v], i) => v !== i)) {
      throw new ConfigError(source, `label2id values must be 0..${entries.length - 1}`);
    }
  }
  if (l2i) {
    const keys = Object.keys(l2i);
    const bad = keys.length !== names.length || names.some((name, i) => l2i[name] !== i);
    if (bad) {
      throw new ConfigError(
        source,
        `id2label and label2id disagree: id2label has [${names.join(", ")}], label2id ${JSON.stringify(l2i)}`,
      );
    }
  }
  if (n !== undefined && n !== names.length) {
    throw new ConfigError(source, `num_labels is ${n} but the label maps have ${names.length} labels`);
  }
  return labelMaps(names);
}

/** Overrides for a new config (from-scratch training), merged over defaults or a base config. */
export function makeBertConfig(
  overrides: Partial<Omit<BertConfig, "id2label" | "label2id" | "extra">> & { labels: readonly string[] },
  base?: BertConfig,
): BertConfig {
  const { labels, ...fields } = overrides;
  const merged = { ...(base ? configToJson(base) : { ...BERT_DEFAULTS }), ...fields, ...labelMaps(labels) };
  delete (merged as Record<string, unknown>).num_labels;
  return parseBertConfig(merged, "config");
}

/** The `config.json` object HF writes for a BertForTokenClassification (every field, label maps). */
export function configToJson(config: BertConfig): Record<string, unknown> {
  return familyConfigJson({ ...config, model_type: "bert" }, "BertForTokenClassification");
}
