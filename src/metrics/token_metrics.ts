/**
 * Token-level metrics for tag sets without entity structure (POS tags, chunk tags read as plain labels):
 * accuracy and per-tag precision, recall and F1, as scikit-learn's `classification_report` computes them
 * on the flattened tag lists.
 * @module
 */

import { checkConsistentLength, type TagBatch } from "./seqeval.ts";
import { type ClassCounts, scoreCounts, type ScoreTable, type ZeroDivision } from "./scores.ts";
import { formatTokenReport } from "./report_text.ts";

/** Token-level scores: per tag (sorted), averages, and accuracy. */
export interface TokenReport extends ScoreTable {
  /** Correct tokens divided by all tokens (NaN when there are none). */
  accuracy: number;
  /** Number of tokens scored. */
  tokens: number;
  /** Number of tokens whose predicted tag equals the reference tag. */
  correctTokens: number;
}

/** Options for token-level metrics. */
export interface TokenMetricOptions {
  /** Value of an undefined precision/recall: `"warn"` (0 and a one-time warning, the default), 0 or 1. */
  zeroDivision?: ZeroDivision;
}

/**
 * Incremental token-level metric: {@link addBatch} sentences of tags, then {@link compute}. A tag's
 * precision is the share of tokens predicted with it that are right, its recall the share of its
 * reference tokens that were found; micro averages equal accuracy. Computing resets the metric.
 */
export class TokenMetric {
  readonly #zeroDivision: ZeroDivision;
  #counts = new Map<string, ClassCounts>();
  #tokens = 0;
  #correct = 0;
  #sentences = 0;

  /** Creates an empty metric. */
  constructor(options: TokenMetricOptions = {}) {
    this.#zeroDivision = options.zeroDivision ?? "warn";
  }

  #of(tag: string): ClassCounts {
    let c = this.#counts.get(tag);
    if (c === undefined) {
      c = { correct: 0, predicted: 0, actual: 0 };
      this.#counts.set(tag, c);
    }
    return c;
  }

  /** Adds sentences; throws, naming the sentence, when lengths differ or a tag is not a non-empty string. */
  addBatch(batch: TagBatch): this {
    checkConsistentLength(batch, this.#sentences);
    batch.references.forEach((gold, s) => {
      const pred = batch.predictions[s];
      for (let i = 0; i < gold.length; i++) {
        const g = this.#of(gold[i]);
        g.actual++;
        this.#of(pred[i]).predicted++;
        if (gold[i] === pred[i]) {
          g.correct++;
          this.#correct++;
        }
      }
      this.#tokens += gold.length;
      this.#sentences++;
    });
    return this;
  }

  /** Adds `batch` if given, returns the scores and resets. */
  compute(batch?: TagBatch): TokenReport {
    if (batch !== undefined) this.addBatch(batch);
    const table = scoreCounts(this.#counts, this.#zeroDivision);
    const report = {
      ...table,
      accuracy: this.#correct / this.#tokens,
      tokens: this.#tokens,
      correctTokens: this.#correct,
    };
    this.#counts = new Map();
    this.#tokens = this.#correct = this.#sentences = 0;
    return report;
  }
}

/** Token-level scores of `yPred` against `yTrue` (lists of tag sequences). */
export function tokenReport(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: TokenMetricOptions = {},
): TokenReport {
  return new TokenMetric(options).compute({ references: yTrue, predictions: yPred });
}

/**
 * Token-level report as text, in the layout of scikit-learn's `classification_report` on the flattened
 * tags: a row per tag, then accuracy, macro and weighted averages.
 */
export function tokenClassificationReport(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: TokenMetricOptions & { digits?: number } = {},
): string {
  const r = tokenReport(yTrue, yPred, options);
  return formatTokenReport(r, r.accuracy, r.tokens, options.digits ?? 2);
}
