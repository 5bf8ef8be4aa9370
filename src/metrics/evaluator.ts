/**
 * Batch-by-batch NER evaluation from model outputs: decodes each batch at subword and word level and feeds
 * two {@link SeqevalMetric}s, so no logits or tag lists are kept between batches.
 * @module
 */

import { decodeSubwordLevel, decodeWordLevel } from "./decode.ts";
import {
  type EntityReport,
  SeqevalMetric,
  type SeqevalOptions,
  type SeqevalResult,
  toSeqevalResult,
} from "./seqeval.ts";

/** One evaluation batch, one row per sequence. */
export interface NerBatch {
  /** Predicted label ids (the argmax of the logits), one row per sequence. */
  predictions: readonly ArrayLike<number>[];
  /** Label ids aligned with the subtokens; -100 where nothing is scored. */
  labels: readonly ArrayLike<number>[];
  /** Word index of each subtoken (null/negative for special tokens and padding); enables word level. */
  wordIds?: readonly ArrayLike<number | null | undefined>[];
  /**
   * The original word tags of each sequence. With `wordIds`, word-level references come from here (and
   * truncated words count as predicted `O`) instead of from the labels at first subtokens.
   */
  wordTags?: readonly (readonly string[])[];
}

/** Both views of one evaluation; `headline` is the word-level one when word ids were given. */
export interface NerEvaluation {
  /** Word-level seqeval dict (first subtoken of each word), or undefined without word ids. */
  word?: SeqevalResult;
  /** Subword-level seqeval dict (every position whose label is not -100), as the course computes it. */
  subword: SeqevalResult;
  /** `word` if present, else `subword`. */
  headline: SeqevalResult;
  /** Full report behind `word`. */
  wordReport?: EntityReport;
  /** Full report behind `subword`. */
  subwordReport: EntityReport;
  /** Reference words no subtoken covered (only counted when `wordTags` were given). */
  unseenWords: number;
}

/** Accumulates subword- and word-level seqeval over batches of model outputs. */
export class NerEvaluator {
  readonly #labelNames: readonly string[];
  readonly #subword: SeqevalMetric;
  readonly #word: SeqevalMetric;
  #wordBatches = 0;
  #batches = 0;
  #unseen = 0;

  /** `labelNames[id]` is the tag of label id `id`; `options` configure both seqeval metrics. */
  constructor(labelNames: readonly string[], options: SeqevalOptions = {}) {
    if (labelNames.length === 0) throw new RangeError("labelNames must not be empty");
    this.#labelNames = [...labelNames];
    this.#subword = new SeqevalMetric(options);
    this.#word = new SeqevalMetric(options);
  }

  /** Decodes and adds one batch. All batches must agree on whether `wordIds` is given. */
  addBatch(batch: NerBatch): this {
    const sub = decodeSubwordLevel(batch.predictions, batch.labels, this.#labelNames);
    let words: ReturnType<typeof decodeWordLevel> | undefined;
    if (batch.wordIds !== undefined) {
      if (this.#batches > this.#wordBatches) throw new Error("addBatch: earlier batches had no wordIds");
      words = decodeWordLevel(
        batch.predictions,
        batch.wordIds,
        this.#labelNames,
        batch.wordTags ? { references: batch.wordTags } : { labels: batch.labels },
      );
    } else if (this.#wordBatches > 0) {
      throw new Error("addBatch: earlier batches had wordIds, this one has none");
    }
    this.#subword.addBatch(sub);
    if (words) {
      this.#word.addBatch(words);
      this.#unseen += words.unseenWords;
      this.#wordBatches++;
    }
    this.#batches++;
    return this;
  }

  /** Returns both views and resets. */
  compute(): NerEvaluation {
    const hasWords = this.#wordBatches > 0;
    const unseenWords = this.#unseen;
    this.#batches = this.#wordBatches = this.#unseen = 0;
    const subwordReport = this.#subword.computeReport();
    const wordReport = hasWords ? this.#word.computeReport() : undefined;
    const subword = toSeqevalResult(subwordReport);
    const word = wordReport ? toSeqevalResult(wordReport) : undefined;
    return { word, subword, headline: word ?? subword, wordReport, subwordReport, unseenWords };
  }
}
