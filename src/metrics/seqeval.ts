/**
 * Entity-level evaluation equivalent to seqeval (and to Hugging Face `evaluate`'s `seqeval` metric, whose
 * result shape {@link SeqevalResult} mirrors): an incremental {@link SeqevalMetric} (`addBatch` /
 * `compute`) that keeps only counts, plus one-shot functions named after seqeval's.
 * @module
 */

import { type Chunk, type ChunkOptions, ChunkStream } from "./chunks.ts";
import { autoDetectScheme, type Scheme, strictEntities, type StrictEntity } from "./schemes.ts";
import { type ClassCounts, scoreCounts, type ScoreTable, type ZeroDivision } from "./scores.ts";
import { formatSeqevalReport } from "./report_text.ts";

/** How entities are read and scored. */
export interface SeqevalOptions extends ChunkOptions {
  /**
   * `"default"` (seqeval's `mode=None`, conlleval-compatible chunking) or `"strict"` (only entities that
   * are well-formed under `scheme` count). Default `"default"`. As in seqeval, `scheme` is ignored
   * unless the mode is strict.
   */
  mode?: "default" | "strict";
  /** Tagging scheme for strict mode; when omitted it is detected from the references as seqeval does. */
  scheme?: Scheme;
  /** Value of an undefined precision/recall: `"warn"` (0 and a one-time warning, the default), 0 or 1. */
  zeroDivision?: ZeroDivision;
}

/** Per-type entry of a {@link SeqevalResult}. */
export interface EntityTypeScores {
  /** Correct entities / predicted entities of this type. */
  precision: number;
  /** Correct entities / reference entities of this type. */
  recall: number;
  /** Harmonic mean of precision and recall. */
  f1: number;
  /** Number of reference entities of this type. */
  number: number;
}

/**
 * The dict returned by `evaluate.load("seqeval").compute(...)`: one {@link EntityTypeScores} per entity type
 * (e.g. `MISC`), then `overall_precision`, `overall_recall`, `overall_f1` (micro averages) and
 * `overall_accuracy` (token accuracy).
 */
export interface SeqevalResult {
  /** Scores of each entity type (the `overall_*` keys hold numbers). */
  [type: string]: EntityTypeScores | number;
  /** Micro-averaged precision over all entity types. */
  overall_precision: number;
  /** Micro-averaged recall over all entity types. */
  overall_recall: number;
  /** Micro-averaged F1 over all entity types. */
  overall_f1: number;
  /** Fraction of tokens whose predicted tag equals the reference tag. */
  overall_accuracy: number;
}

/** Everything the metric knows after a pass: per-type scores, the three averages, and token accuracy. */
export interface EntityReport extends ScoreTable {
  /** Tokens whose predicted tag equals the reference tag, divided by {@link tokens} (NaN when 0). */
  accuracy: number;
  /** Number of tokens scored. */
  tokens: number;
  /** Number of tokens whose predicted tag equals the reference tag. */
  correctTokens: number;
  /** Number of sentences scored. */
  sentences: number;
}

type _StrictPair = [gold: StrictEntity[], pred: StrictEntity[]];

/** A batch of sentences: predicted and reference tag sequences, sentence by sentence. */
export interface TagBatch {
  /** Predicted tags, one list per sentence. */
  predictions: readonly (readonly string[])[];
  /** Reference (gold) tags, one list per sentence, each as long as its prediction. */
  references: readonly (readonly string[])[];
}

/**
 * Checks that `predictions` and `references` are lists of tag lists of equal shape. `offset` is the
 * index of the first sentence, used in the error messages.
 */
export function checkConsistentLength(batch: TagBatch, offset = 0): void {
  const { predictions, references } = batch;
  if (!Array.isArray(predictions) || !Array.isArray(references)) {
    throw new TypeError("predictions and references must both be arrays of tag sequences");
  }
  if (predictions.length !== references.length) {
    throw new RangeError(
      `predictions has ${predictions.length} sequences but references has ${references.length}`,
    );
  }
  for (let i = 0; i < references.length; i++) {
    const r = references[i];
    const p = predictions[i];
    if (!Array.isArray(r) || !Array.isArray(p)) {
      throw new TypeError(
        `sequence ${offset + i}: expected an array of tags in both predictions and references`,
      );
    }
    if (r.length !== p.length) {
      throw new RangeError(
        `sequence ${offset + i}: references has ${r.length} tags but predictions has ${p.length}`,
      );
    }
    for (let j = 0; j < r.length; j++) {
      const bad = typeof r[j] !== "string" || r[j] === ""
        ? "references"
        : typeof p[j] !== "string" || p[j] === ""
        ? "predictions"
        : undefined;
      if (bad !== undefined) {
        const tag = bad === "references" ? r[j] : p[j];
        throw new TypeError(
          `sequence ${offset + i}, position ${j}: expected a non-empty tag string in ${bad}, got ${
            JSON.stringify(tag)
          }`,
        );
      }
    }
  }
}

/**
 * Incremental seqeval: feed sentences with {@link addBatch}, then {@link compute}. Only counts are kept
 * (plus the tag strings in strict mode when no scheme is given, since the scheme is detected from all
 * references), so evaluation never holds logits. Like the `evaluate` metric, computing resets it.
 */
export class SeqevalMetric {
  readonly #mode: "default" | "strict";
  readonly #scheme: Scheme | undefined;
  readonly #suffix: boolean;
  readonly #zeroDivision: ZeroDivision;
  #counts = new Map<string, ClassCounts>();
  #tokens = 0;
  #correctTokens = 0;
  #sentences = 0;
  #gold!: ChunkStream;
  #pred!: ChunkStream;
  #buffered: { predictions: string[][]; references: string[][] } = { predictions: [], references: [] };

  /** Creates an empty metric; see {@link SeqevalOptions}. */
  constructor(options: SeqevalOptions = {}) {
    const mode = options.mode ?? "default";
    if (mode !== "default" && mode !== "strict") {
      throw new Error(`mode must be "default" or "strict", got ${JSON.stringify(mode)}`);
    }
    this.#mode = mode;
    this.#scheme = options.scheme;
    this.#suffix = options.suffix ?? false;
    this.#zeroDivision = options.zeroDivision ?? "warn";
    if (this.#scheme !== undefined) strictEntities([], this.#scheme); // validates the name
    this.#reset();
  }

  /** Number of sentences added since the last compute. */
  get sentences(): number {
    return this.#sentences;
  }

  /**
   * Adds sentences. Throws, naming the sentence (counted from the first one added since the last compute),
   * when the two lists or two sentences differ in length, or on a tag the mode cannot read.
   */
  addBatch(batch: TagBatch): this {
    checkConsistentLength(batch, this.#sentences);
    const { predictions, references } = batch;
    // Strict-mode entities are read before anything is counted, so a bad tag leaves the metric unchanged.
    const strict = this.#mode === "strict" && this.#scheme !== undefined
      ? references.map((gold, s) =>
        this.#strictPair(gold, predictions[s], this.#sentences + s, this.#scheme!)
      )
      : undefined;
    for (let s = 0; s < references.length; s++) {
      const gold = references[s];
      const pred = predictions[s];
      for (let i = 0; i < gold.length; i++) {
        if (gold[i] === pred[i]) this.#correctTokens++;
      }
      this.#tokens += gold.length;
      if (this.#mode === "default") this.#addDefault(gold, pred);
      else if (this.#scheme === undefined) {
        this.#buffered.references.push([...gold]);
        this.#buffered.predictions.push([...pred]);
      } else this.#countStrict(strict![s]);
      this.#sentences++;
    }
    return this;
  }

  /**
   * Adds `batch` if given, then returns the seqeval/`evaluate` dict and resets. Throws when no token was
   * added (seqeval divides by zero there).
   */
  compute(batch?: TagBatch): SeqevalResult {
    if (batch !== undefined) this.addBatch(batch);
    if (this.#tokens === 0) {
      this.#reset();
      throw new RangeError(
        "nothing to evaluate: no tokens were added (overall_accuracy would divide by zero)",
      );
    }
    return toSeqevalResult(this.computeReport());
  }

  /** Like {@link compute} but returns the full {@link EntityReport} (with averages and counts). */
  computeReport(batch?: TagBatch): EntityReport {
    if (batch !== undefined) this.addBatch(batch);
    try {
      if (this.#mode === "default") {
        this.#record(this.#gold.finish(), this.#pred.finish());
      } else if (this.#scheme === undefined && this.#buffered.references.length > 0) {
        const scheme = autoDetectScheme(this.#buffered.references, { suffix: this.#suffix });
        const { references, predictions } = this.#buffered;
        references.forEach((gold, s) => this.#countStrict(this.#strictPair(gold, predictions[s], s, scheme)));
      }
      const table = scoreCounts(this.#counts, this.#zeroDivision);
      return {
        ...table,
        accuracy: this.#correctTokens / this.#tokens,
        tokens: this.#tokens,
        correctTokens: this.#correctTokens,
        sentences: this.#sentences,
      };
    } finally {
      this.#reset();
    }
  }

  #reset(): void {
    this.#counts = new Map();
    this.#tokens = 0;
    this.#correctTokens = 0;
    this.#sentences = 0;
    this.#gold = new ChunkStream(this.#suffix);
    this.#pred = new ChunkStream(this.#suffix);
    this.#buffered = { predictions: [], references: [] };
  }

  #countsOf(type: string): ClassCounts {
    let c = this.#counts.get(type);
    if (c === undefined) {
      c = { correct: 0, predicted: 0, actual: 0 };
      this.#counts.set(type, c);
    }
    return c;
  }

  /** Both streams advance in lockstep, so equal chunks are reported at the same step. */
  #record(g: Chunk | undefined, p: Chunk | undefined): void {
    if (g !== undefined) this.#countsOf(g[0]).actual++;
    if (p !== undefined) this.#countsOf(p[0]).predicted++;
    if (g !== undefined && p !== undefined && g[0] === p[0] && g[1] === p[1]) this.#countsOf(g[0]).correct++;
  }

  #addDefault(gold: readonly string[], pred: readonly string[]): void {
    for (let i = 0; i < gold.length; i++) this.#record(this.#gold.push(gold[i]), this.#pred.push(pred[i]));
    this.#record(this.#gold.endSentence(), this.#pred.endSentence());
  }

  #strictPair(gold: readonly string[], pred: readonly string[], index: number, scheme: Scheme): _StrictPair {
    const opts = { suffix: this.#suffix, sentence: index };
    return [strictEntities(gold, scheme, opts), strictEntities(pred, scheme, opts)];
  }

  #countStrict([gold, pred]: _StrictPair): void {
    const key = (e: StrictEntity) => `${e.start}:${e.end}:${e.type}`;
    const goldKeys = new Set(gold.map(key));
    for (const e of gold) this.#countsOf(e.type).actual++;
    for (const e of pred) {
      const c = this.#countsOf(e.type);
      c.predicted++;
      if (goldKeys.has(key(e))) c.correct++;
    }
  }
}

/** Converts an {@link EntityReport} to the `evaluate` seqeval dict. Throws when no token was scored. */
export function toSeqevalResult(report: EntityReport): SeqevalResult {
  if (report.tokens === 0) {
    throw new RangeError("nothing to evaluate: no tokens were added (overall_accuracy would divide by zero)");
  }
  const out: Record<string, EntityTypeScores | number> = {};
  for (const c of report.classes) {
    out[c.name] = { precision: c.precision, recall: c.recall, f1: c.f1, number: c.support };
  }
  out.overall_precision = report.micro.precision;
  out.overall_recall = report.micro.recall;
  out.overall_f1 = report.micro.f1;
  out.overall_accuracy = report.accuracy;
  return out as SeqevalResult;
}

/**
 * One-shot form of `evaluate.load("seqeval").compute(predictions=..., references=...)`.
 * Example (the course's): references `[["B-ORG","O","B-MISC","O","O","O","B-MISC","O","O"]]` with the
 * third prediction `O` gives `MISC` P 1 R 0.5, `ORG` 1/1/1, overall F1 0.8, accuracy 8/9.
 */
export function seqeval(batch: TagBatch, options: SeqevalOptions = {}): SeqevalResult {
  return new SeqevalMetric(options).compute(batch);
}

/** Per-type scores, micro/macro/weighted averages and token accuracy for `yTrue` against `yPred`. */
export function entityReport(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: SeqevalOptions = {},
): EntityReport {
  return new SeqevalMetric(options).computeReport({ references: yTrue, predictions: yPred });
}

/**
 * seqeval's `classification_report(y_true, y_pred, digits=...)` as text: one row per entity type with
 * precision, recall, f1-score and support, then micro, macro and weighted averages.
 */
export function classificationReport(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: SeqevalOptions & { digits?: number } = {},
): string {
  return formatSeqevalReport(entityReport(yTrue, yPred, options), options.digits ?? 2);
}

/** seqeval's `accuracy_score`: the fraction of tokens whose predicted tag equals the reference tag. */
export function accuracyScore(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
): number {
  checkConsistentLength({ references: yTrue, predictions: yPred });
  let correct = 0;
  let total = 0;
  yTrue.forEach((gold, s) => {
    gold.forEach((tag, i) => {
      if (tag === yPred[s][i]) correct++;
    });
    total += gold.length;
  });
  return correct / total;
}

/** The averaging seqeval's `*_score` functions accept. */
export type Average = "micro" | "macro" | "weighted";

function _score(
  key: "precision" | "recall" | "f1",
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: SeqevalOptions & { average?: Average },
): number {
  const report = entityReport(yTrue, yPred, options);
  return report[options.average ?? "micro"][key];
}

/** seqeval's `precision_score` (micro average unless `average` says otherwise). */
export function precisionScore(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: SeqevalOptions & { average?: Average } = {},
): number {
  return _score("precision", yTrue, yPred, options);
}

/** seqeval's `recall_score` (micro average unless `average` says otherwise). */
export function recallScore(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: SeqevalOptions & { average?: Average } = {},
): number {
  return _score("recall", yTrue, yPred, options);
}

/** seqeval's `f1_score` (micro average unless `average` says otherwise). */
export function f1Score(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: SeqevalOptions & { average?: Average } = {},
): number {
  return _score("f1", yTrue, yPred, options);
}
