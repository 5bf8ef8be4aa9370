/**
 * Precision, recall, F1 and support from per-class counts, with seqeval's (scikit-learn's) rules for zero
 * division and its micro, macro and weighted averages, computed in the same floating-point order.
 * @module
 */

import { compareCodePoints, numpyAverage } from "./numeric.ts";
import { warnOnce } from "./warnings.ts";

/** What a ratio with a zero denominator becomes: `"warn"` (0 plus a one-time warning), 0 or 1. */
export type ZeroDivision = "warn" | 0 | 1;

/** Counts for one class (an entity type, or a tag in token-level metrics). */
export interface ClassCounts {
  /** Items both in the references and in the predictions (true positives). */
  correct: number;
  /** Items in the predictions. */
  predicted: number;
  /** Items in the references (the support). */
  actual: number;
}

/** Precision, recall and F1 of one class or one average, and its support. */
export interface Scores {
  /** Correct / predicted. */
  precision: number;
  /** Correct / actual. */
  recall: number;
  /** 2PR / (P + R), from the two ratios. */
  f1: number;
  /** Number of reference items (for an average: all of them). */
  support: number;
}

/** Scores of one class plus the counts they come from. */
export interface ClassScores extends Scores, ClassCounts {
  /** The class name. */
  name: string;
}

/** Per-class scores (sorted by name, by code point) and the three averages over them. */
export interface ScoreTable {
  /** One entry per class, sorted by name. */
  classes: ClassScores[];
  /** Scores of the pooled counts (seqeval's `overall_*`). */
  micro: Scores;
  /** Plain mean of the per-class scores. */
  macro: Scores;
  /** Mean of the per-class scores weighted by support. */
  weighted: Scores;
}

function _checkZeroDivision(z: unknown): asserts z is ZeroDivision {
  if (z !== "warn" && z !== 0 && z !== 1) {
    throw new Error(`zeroDivision must be "warn", 0 or 1, got ${JSON.stringify(z)}`);
  }
}

function _divide(
  num: readonly number[],
  den: readonly number[],
  metric: "Precision" | "Recall",
  modifier: string,
  zeroDivision: ZeroDivision,
): number[] {
  let anyZero = false;
  const out = num.map((n, i) => {
    if (den[i] !== 0) return n / den[i];
    anyZero = true;
    return zeroDivision === 1 ? 1 : 0;
  });
  if (anyZero && zeroDivision === "warn") {
    const where = num.length === 1 ? "due to" : "in labels with";
    warnOnce(
      `UndefinedMetricWarning: ${metric} and F-score are ill-defined and being set to 0.0 ${where} ` +
        `no ${modifier} samples. Use \`zero_division\` parameter to control this behavior.`,
    );
  }
  return out;
}

function _f1(p: number, r: number): number {
  const denom = p + r;
  return (2 * p * r) / (denom === 0 ? 1 : denom);
}

/**
 * Scores per class and micro/macro/weighted averages from counts, as seqeval's
 * `precision_recall_fscore_support` computes them: precision = correct/predicted, recall =
 * correct/actual, F1 = 2PR/(P+R) from those two ratios; a zero denominator gives `zeroDivision` (0 with a
 * warning by default). Macro is the plain mean over classes (NaN when there is none), weighted the mean
 * weighted by support; when there is no support at all, weighted recall is the zero-division value and
 * weighted precision/F1 are that value only if nothing was predicted either, else 0.
 */
export function scoreCounts(
  counts: ReadonlyMap<string, ClassCounts> | Record<string, ClassCounts>,
  zeroDivision: ZeroDivision = "warn",
): ScoreTable {
  _checkZeroDivision(zeroDivision);
  const entries = counts instanceof Map ? [...counts.entries()] : Object.entries(counts);
  entries.sort((a, b) => compareCodePoints(a[0], b[0]));
  const names = entries.map(([name]) => name);
  const tp = entries.map(([, c]) => c.correct);
  const pred = entries.map(([, c]) => c.predicted);
  const act = entries.map(([, c]) => c.actual);

  const precision = _divide(tp, pred, "Precision", "predicted", zeroDivision);
  const recall = _divide(tp, act, "Recall", "true", zeroDivision);
  const f1 = precision.map((p, i) => _f1(p, recall[i]));
  const classes: ClassScores[] = names.map((name, i) => ({
    name,
    precision: precision[i],
    recall: recall[i],
    f1: f1[i],
    support: act[i],
    correct: tp[i],
    predicted: pred[i],
    actual: act[i],
  }));

  const sum = (a: readonly number[]) => a.reduce((s, x) => s + x, 0);
  const totalActual = sum(act);
  const totalPred = sum(pred);
  const [microP] = _divide([sum(tp)], [totalPred], "Precision", "predicted", zeroDivision);
  const [microR] = _divide([sum(tp)], [totalActual], "Recall", "true", zeroDivision);
  const micro = { precision: microP, recall: microR, f1: _f1(microP, microR), support: totalActual };

  const macro = {
    precision: numpyAverage(precision),
    recall: numpyAverage(recall),
    f1: numpyAverage(f1),
    support: totalActual,
  };

  let weighted: Scores;
  if (totalActual === 0) {
    const z = zeroDivision === 1 ? 1 : 0;
    const pf = totalPred === 0 ? z : 0;
    weighted = { precision: pf, recall: z, f1: pf, support: 0 };
  } else {
    weighted = {
      precision: numpyAverage(precision, act),
      recall: numpyAverage(recall, act),
      f1: numpyAverage(f1, act),
      support: totalActual,
    };
  }
  return { classes, micro, macro, weighted };
}
