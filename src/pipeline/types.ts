/**
 * Shapes shared by the token-classification pipeline: aggregation strategies, the two entity shapes the
 * course prints, and the scorer interface that turns a padded batch of token ids into logits (the model's
 * forward by default; tests and other back ends inject their own).
 * @module
 */

/** How token predictions are fused into entities (Hugging Face's `aggregation_strategy`). */
export type AggregationStrategy = "none" | "simple" | "first" | "average" | "max";

/** Every aggregation strategy, in HF's order. */
export const AGGREGATION_STRATEGIES: readonly AggregationStrategy[] = [
  "none",
  "simple",
  "first",
  "average",
  "max",
];

/** One token's prediction (`aggregationStrategy: "none"`), as HF's pipeline returns it. */
export interface TokenEntity {
  /** Predicted label of the token (`B-PER`, `I-ORG`, …). */
  entity: string;
  /** Softmax probability of that label. */
  score: number;
  /** Position of the token in the encoded sequence (`[CLS]` is 0). */
  index: number;
  /** The token's text: `text.slice(start, end)`. */
  word: string;
  /** Start of the token in the text (UTF-16 code units). */
  start: number;
  /** End (exclusive) of the token in the text (UTF-16 code units). */
  end: number;
}

/** An entity made of grouped tokens (strategies `simple`, `first`, `average`, `max`). */
export interface GroupedEntity {
  /** Entity type without the B-/I- prefix (`PER`, `ORG`, …). */
  entity_group: string;
  /** Mean of the grouped tokens' (or words') scores. */
  score: number;
  /** The entity's text: `text.slice(start, end)`. */
  word: string;
  /** Start of the entity in the text (UTF-16 code units). */
  start: number;
  /** End (exclusive) of the entity in the text (UTF-16 code units). */
  end: number;
}

/** The entity shape a strategy produces. */
export type EntityFor<S extends AggregationStrategy> = S extends "none" ? TokenEntity : GroupedEntity;

/** A padded batch handed to a {@link TokenScorer}: (B, T) arrays, row-major. */
export interface ScoreBatch {
  /** Number of sequences. */
  batch: number;
  /** Padded length of every sequence (special tokens included). */
  seqLen: number;
  /** (B, T) token ids; padding holds the tokenizer's pad id. */
  inputIds: Int32Array;
  /** (B, T) 1 for real tokens, 0 for padding. */
  attentionMask: Int32Array;
  /** (B, T) segment ids. */
  tokenTypeIds: Int32Array;
}

/** Turns token ids into per-token logits: the model's forward, or anything that behaves like it. */
export interface TokenScorer {
  /** Label names by id (the logits' last dimension). */
  readonly labels: readonly string[];
  /** Longest sequence accepted, special tokens included (BERT: `max_position_embeddings`). */
  readonly maxLength?: number;
  /** Number of token ids the scorer knows (ids must be below it). */
  readonly vocabSize?: number;
  /** Returns the (B, T, labels.length) logits of a batch, row-major. */
  score(batch: ScoreBatch): Promise<Float32Array>;
}

/** Whether a value is a {@link TokenScorer}. */
export function isTokenScorer(value: unknown): value is TokenScorer {
  const v = value as Partial<TokenScorer> | null;
  return typeof v === "object" && v !== null && typeof v.score === "function" && Array.isArray(v.labels);
}
