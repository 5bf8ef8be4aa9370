/**
 * Evaluation for token classification: seqeval-equivalent entity metrics (default and strict modes,
 * incremental), token-level metrics for POS-like tags, decoding of model outputs at subword and word level,
 * and the CoNLL `conlleval` scorer.
 *
 * ```ts
 * import { seqeval } from "./mod.ts";
 * const refs = [["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"]];
 * const preds = [["B-ORG", "O", "O", "O", "O", "O", "B-MISC", "O", "O"]];
 * seqeval({ predictions: preds, references: refs }).overall_f1; // 0.8
 * ```
 * @module
 */

export {
  type Chunk,
  type ChunkOptions,
  ChunkStream,
  getEntities,
  type ParsedTag,
  parseTag,
} from "./chunks.ts";
export {
  autoDetectScheme,
  type Scheme,
  SCHEMES,
  strictEntities,
  type StrictEntity,
  type StrictOptions,
} from "./schemes.ts";
export {
  type ClassCounts,
  type ClassScores,
  scoreCounts,
  type Scores,
  type ScoreTable,
  type ZeroDivision,
} from "./scores.ts";
export {
  accuracyScore,
  type Average,
  checkConsistentLength,
  classificationReport,
  type EntityReport,
  entityReport,
  type EntityTypeScores,
  f1Score,
  precisionScore,
  recallScore,
  seqeval,
  SeqevalMetric,
  type SeqevalOptions,
  type SeqevalResult,
  type TagBatch,
  toSeqevalResult,
} from "./seqeval.ts";
export {
  tokenClassificationReport,
  TokenMetric,
  type TokenMetricOptions,
  type TokenReport,
  tokenReport,
} from "./token_metrics.ts";
export {
  argmaxLastAxis,
  type DecodedTags,
  type DecodedWords,
  decodeSubwordLevel,
  decodeWordLevel,
  splitRows,
  type WordLevelOptions,
} from "./decode.ts";
export { type NerBatch, type NerEvaluation, NerEvaluator } from "./evaluator.ts";
export {
  conlleval,
  type ConllevalCounts,
  conllevalCounts,
  type ConllevalInput,
  type ConllevalParseOptions,
  type ConllevalRow,
  conllevalScores,
  type ConllevalTypeCounts,
  formatConllevalReport,
  parseConllevalInput,
  rowsFromSentences,
} from "./conlleval.ts";
export { formatSeqevalReport, formatTokenReport } from "./report_text.ts";
export { compareCodePoints, formatFixed, numpyAverage, numpySum } from "./numeric.ts";
export { resetWarnings, warnOnce } from "./warnings.ts";
