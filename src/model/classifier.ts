/**
 * The model seam: every token-classification family (BERT, DistilBERT, RoBERTa, ELECTRA, DeBERTa-v2, …)
 * implements {@link TokenClassifier}, and describes itself to the registry with a {@link ModelFamily}:
 * config parsing with the family's field names and defaults, parameter shapes (names = checkpoint keys),
 * HF's `_init_weights`, checkpoint-key prefixes and legacy aliases, the HF `architectures` name and the
 * tokenizer class to save. The Trainer, checkpoints, from/savePretrained, the pipeline, parity and the CLIs
 * only see these two types. {@link TokenClassifierBase} holds what every family shares (parameter
 * bookkeeping, train/eval, dropout seeds, dispose), so a family file is its forward pass plus its shapes.
 * @module
 */
import { dropout, DropoutSeeds, type DropoutSpec } from "../ops/dropout.ts";
import type { Tensor } from "../engine/tensor.ts";
import type { Batch } from "../data/collator.ts";
import { seededRandom } from "../data/loader.ts";
import { checkpointParameters, uploadParameter } from "./chunked.ts";

/** A batch as the collator produces it: (B, T) arrays, row-major. */
export interface TokenBatch {
  /** Batch size. */
  batch: number;
  /** Padded sequence length. */
  seqLen: number;
  /** (B, T) token ids. */
  inputIds: Int32Array;
  /** (B, T) 1 for real tokens, 0 for padding (default all 1). */
  attentionMask?: Int32Array;
  /** (B, T) segment ids (default all 0; ignored by families without token types). */
  tokenTypeIds?: Int32Array;
  /** (B, T) label ids, −100 where ignored (optional: no loss without it). */
  labels?: Int32Array;
}

/** A collated batch (`collate`/`BatchLoader`) as model input; labels are dropped when `withLabels` is false. */
export function toTokenBatch(b: Batch, withLabels = true): TokenBatch {
  return {
    batch: b.batchSize,
    seqLen: b.seqLen,
    inputIds: b.inputIds,
    attentionMask: b.attentionMask,
    tokenTypeIds: b.tokenTypeIds,
    labels: withLabels ? b.labels ?? undefined : undefined,
  };
}

/** The model's outputs. */
export interface TokenClassifierOutput {
  /** (B, T, num_labels) scores for every position, padding included. */
  logits: Tensor;
  /** Mean cross-entropy over labelled positions (shape [1]), when labels were given. */
  loss?: Tensor;
}

/**
 * The fields every family's config has (HF names), besides its own. `model_type` selects the registry
 * entry (`bert`, `roberta`, `xlm-roberta`, …); `extra` keeps fields this project does not interpret so a
 * save writes them back.
 */
export interface TokenClassifierConfig {
  /** HF `model_type`. */
  model_type: string;
  vocab_size: number;
  /** The longest input the model takes (for RoBERTa-style positions: the table size). */
  max_position_embeddings: number;
  pad_token_id: number;
  initializer_range: number;
  /** Label names by id (index = id). */
  id2label: Record<string, string>;
  /** Ids by label name. */
  label2id: Record<string, number>;
  /** Fields of the file this project does not interpret, kept so a save writes them back. */
  extra: Record<string, unknown>;
}

/** A token classifier on the engine: parameters on the GPU named by checkpoint key and a differentiable forward. */
export interface TokenClassifier<C extends TokenClassifierConfig = TokenClassifierConfig> {
  /** The configuration (the family's HF field names). */
  readonly config: C;
  /**
   * Parameters by checkpoint key, in HF module order; persistent, requiresGrad. A parameter too large for
   * one storage binding appears as its row chunks `<key>[start:end]` (see `./chunked.ts`).
   */
  readonly params: Map<string, Tensor>;
  /** Dropout on (training) or off (eval). */
  training: boolean;
  /** Seeds for dropout masks (one per dropout call); its state is saved with checkpoints. */
  readonly seeds: DropoutSeeds;
  /** Parameters as [name, tensor] pairs in HF order. */
  namedParameters(): [string, Tensor][];
  /** Total number of scalar parameters. */
  numParameters(): number;
  /**
   * HF Trainer's weight-decay grouping for a parameter: false for biases and for parameters of LayerNorm
   * modules (by module type, whatever the module is called).
   */
  decays(name: string): boolean;
  /** Runs the model; records on the tape unless inside `noGrad`. Call inside a scope (`tidy`). */
  forward(batch: TokenBatch): TokenClassifierOutput;
  /** Switches dropout on; returns this. */
  train(): this;
  /** Switches dropout off; returns this. */
  eval(): this;
  /** Frees every parameter, gradient and the model's GPU memory. */
  dispose(): void;
}

/** Special tokens a family's tokenizer files name (`special_tokens_map.json`). */
export type SpecialTokens = Record<string, string>;

/**
 * What the registry knows about a family (one entry per model file). `C` is the family's config type.
 * Generic from-scratch fields are the BERT names; {@link ModelFamily.makeConfig} maps them to the family's.
 */
export interface ModelFamily<C extends TokenClassifierConfig = TokenClassifierConfig> {
  /** The `model_type` values this entry serves (e.g. `roberta`, `xlm-roberta`, `camembert`). */
  readonly modelTypes: readonly string[];
  /** HF's class name for `architectures` (e.g. `RobertaForTokenClassification`) for a model_type. */
  architecture(modelType: string): string;
  /**
   * Parses config.json contents: the family's field names and HF defaults, every field checked, label maps
   * reconciled; errors are {@link ConfigError}s naming `source` and the field.
   */
  parseConfig(json: Record<string, unknown>, source: string): C;
  /**
   * A new config for from-scratch training: the family's defaults, overridden by `fields` given with the
   * generic (BERT) names `vocab_size`, `hidden_size`, `num_hidden_layers`, `num_attention_heads`,
   * `intermediate_size`, `max_position_embeddings` (usable input length), `pad_token_id`, or with the
   * family's own names.
   */
  makeConfig(modelType: string, fields: Record<string, unknown>, labels: readonly string[]): C;
  /** The config.json object HF writes (family fields, `model_type`, `architectures`, label maps). */
  configToJson(config: C): Record<string, unknown>;
  /** Parameter name (checkpoint key) → shape, in HF's module order. */
  parameterShapes(config: C): [string, number[]][];
  /** HF's `_init_weights` for one parameter, on the host; seeded and reproducible. */
  initialWeights(config: C, seed: number, name: string, shape: number[]): Float32Array;
  /** True for the task head's parameters (initialised anew when a checkpoint lacks them). */
  isHead(name: string): boolean;
  /**
   * Checkpoint key → model key: adds the base-model prefix (`bert.`, `roberta.`, …) to bare keys and maps
   * legacy aliases (LayerNorm `gamma`/`beta`). Keys the model does not have pass through (reported unused).
   */
  normalizeKey(key: string): string;
  /**
   * Checkpoint keys (after {@link ModelFamily.normalizeKey}) the model does not use and HF drops without a
   * warning (its `_keys_to_ignore_on_load_unexpected`), e.g. DeBERTa's `position_embeddings`.
   */
  ignoredOnLoad?(key: string): boolean;
  /** Wraps parameters already on the GPU (checked against {@link ModelFamily.parameterShapes}). */
  create(config: C, params: Map<string, Tensor>, seed: number): TokenClassifier<C>;
  /**
   * The longest input the model takes, when not `max_position_embeddings` (RoBERTa-style positions skip
   * `pad_token_id + 1` rows: roberta-base's 514 → 512).
   */
  maxInputLength?(config: C): number;
  /** The family's tokenizer model kind (tokenizer.json `model.type`); default WordPiece. */
  tokenizerKind?(modelType: string): "WordPiece" | "BPE" | "Unigram";
  /** The slow tokenizer class `save_pretrained` names in tokenizer_config.json for a model_type. */
  tokenizerClass(modelType: string): string;
  /** Further tokenizer_config.json fields written anew (e.g. BERT's `do_lower_case: false`). */
  tokenizerConfig?(modelType: string): Record<string, unknown>;
  /** The family's special tokens, for a tokenizer_config.json / special_tokens_map.json written anew. */
  specialTokens(modelType: string): SpecialTokens;
}

/** Thrown for an invalid config.json; the message names the source and the field. */
export class ConfigError extends Error {
  /** Creates the error. */
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = "ConfigError";
  }
}

/**
 * The shared part of every family's model: parameter bookkeeping (checked against the family's shapes),
 * train/eval, dropout seeds and dispose. Subclasses implement `forward` and, when their LayerNorm modules
 * are not named `LayerNorm`, `decays`.
 */
export abstract class TokenClassifierBase<C extends TokenClassifierConfig> implements TokenClassifier<C> {
  /** The configuration. */
  readonly config: C;
  /** Parameters by checkpoint key, in HF module order; persistent, requiresGrad. */
  readonly params: Map<string, Tensor>;
  /** Dropout on (training) or off (eval). */
  training = false;
  /** Seeds for dropout masks (one per dropout call); its state is saved with checkpoints. */
  readonly seeds: DropoutSeeds;

  /**
   * Checks every parameter of `shapes` is present with its shape (whole, or as row chunks covering its
   * rows) and marks them trainable.
   */
  constructor(config: C, params: Map<string, Tensor>, shapes: [string, number[]][], seed = 42) {
    this.config = config;
    this.params = params;
    this.seeds = new DropoutSeeds(seed);
    const stored = new Map(checkpointParameters(params).map((p) => [p.key, p]));
    for (const [name, shape] of shapes) {
      const p = stored.get(name);
      if (!p) throw new Error(`model parameter '${name}' is missing`);
      if (p.shape.join() !== shape.join()) {
        throw new RangeError(`parameter '${name}' has shape [${p.shape}], the config needs [${shape}]`);
      }
      for (const t of p.parts) {
        if (!p.chunked) t.name = name; // chunks keep their `<key>[start:end]` names
        t.requiresGrad = true;
        t.persistent = true;
      }
    }
  }

  /** Parameters as [name, tensor] pairs in HF order. */
  namedParameters(): [string, Tensor][] {
    return [...this.params.entries()];
  }

  /** Total number of scalar parameters. */
  numParameters(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }

  /** HF Trainer's decay grouping for modules named `LayerNorm`: no decay on biases and LayerNorm parameters. */
  decays(name: string): boolean {
    return !name.endsWith(".bias") && !name.includes("LayerNorm");
  }

  /** Switches dropout on; returns this. */
  train(): this {
    this.training = true;
    return this;
  }

  /** Switches dropout off; returns this. */
  eval(): this {
    this.training = false;
    return this;
  }

  /** Frees every parameter, gradient and the model's GPU memory. */
  dispose(): void {
    for (const t of this.params.values()) {
      t.persistent = false;
      t.dispose();
    }
  }

  /** Runs the model; records on the tape unless inside `noGrad`. Call inside a scope (`tidy`). */
  abstract forward(batch: TokenBatch): TokenClassifierOutput;

  /** The parameter `name` (must exist, stored whole). */
  p(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) {
      if (this.#chunks(name)) {
        throw new Error(`model parameter '${name}' is stored as row chunks: look it up with table()`);
      }
      throw new Error(`model parameter '${name}' is missing`);
    }
    return t;
  }

  /**
   * An embedding table for `embedding()`: the parameter `name`, or its row chunks when it is too large
   * for one storage binding (see `./chunked.ts`).
   */
  table(name: string): Tensor | Tensor[] {
    return this.params.get(name) ?? this.#chunks(name) ?? this.p(name);
  }

  #chunks(name: string): Tensor[] | undefined {
    return checkpointParameters(this.params).find((p) => p.key === name && p.chunked)?.parts;
  }

  /** Dropout with probability `p` in training mode (one seed drawn per call), identity otherwise. */
  drop(x: Tensor, p: number): Tensor {
    return this.training && p > 0 ? dropout(x, p, this.seeds.next()) : x;
  }

  /**
   * The dropout `drop` would apply, for a kernel that fuses it (`addLayerNorm`): `{ p, seed }` with the
   * seed drawn now, as `drop` draws it, in training mode with `p > 0`; otherwise undefined (identity).
   */
  dropSpec(p: number): DropoutSpec | undefined {
    return this.training && p > 0 ? { p, seed: this.seeds.next() } : undefined;
  }
}

/** True when `x` looks like a {@link TokenClassifier} (any family). */
export function isTokenClassifier(x: unknown): x is TokenClassifier {
  if (!x || typeof x !== "object") return false;
  const m = x as Partial<TokenClassifier>;
  return m.params instanceof Map && typeof m.forward === "function" && typeof m.config === "object" &&
    typeof m.decays === "function";
}

/**
 * Uploads host weights (one Float32Array per parameter name of `shapes`; all must be present); a
 * parameter over the device's binding limit becomes row chunks (see `./chunked.ts`).
 */
export function uploadWeights(
  shapes: [string, number[]][],
  weights: Map<string, Float32Array>,
): Map<string, Tensor> {
  const params = new Map<string, Tensor>();
  for (const [name, shape] of shapes) {
    const w = weights.get(name);
    if (!w) throw new Error(`weights for '${name}' are missing`);
    for (const [n, t] of uploadParameter(name, shape, w)) params.set(n, t);
  }
  return params;
}

/**
 * HF's usual `_init_weights` on the host for parameters named as HF names them: LayerNorm weights 1 and
 * biases 0 (modules listed by `isLayerNorm`), other biases 0, Linear/Embedding weights ~ normal(0, std)
 * seeded by `seed` and the name; the rows `zeroRows` of `name` (an embedding's padding_idx) set to 0.
 */
export function defaultInit(
  name: string,
  shape: number[],
  std: number,
  seed: number,
  isLayerNorm: (name: string) => boolean,
  zeroRow: number | null = null,
): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (isLayerNorm(name)) return new Float32Array(n).fill(name.endsWith(".weight") ? 1 : 0);
  if (name.endsWith(".bias")) return new Float32Array(n);
  const out = normalInit(n, std, seed, name);
  if (zeroRow !== null && shape.length === 2) out.fill(0, zeroRow * shape[1], (zeroRow + 1) * shape[1]);
  return out;
}

/** `n` samples of normal(0, std) (Box–Muller on the project's seeded RNG), seeded by `seed` and `name`. */
export function normalInit(n: number, std: number, seed: number, name: string): Float32Array {
  const u = seededRandom(seed ^ _hashName(name));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u())) * std, th = 2 * Math.PI * u();
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

function _hashName(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
