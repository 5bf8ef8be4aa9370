/**
 * Inference, the end of the course chapter: `pipeline("token-classification", …)` with HF's aggregation
 * strategies, character offsets into the original text, batches, long texts in overlapping windows, and
 * one label per word for pre-split input.
 *
 * ```ts
 * const ner = await pipeline("token-classification", { model: "bert-finetuned-ner", aggregationStrategy: "simple" });
 * await ner.run("My name is Sylvain and I work at Hugging Face in Brooklyn.");
 * // [{ entity_group: "PER", score: 0.998, word: "Sylvain", start: 11, end: 18 }, …]
 * ```
 * @module
 */
export {
  AGGREGATION_STRATEGIES,
  type AggregationStrategy,
  type EntityFor,
  type GroupedEntity,
  isTokenScorer,
  type ScoreBatch,
  type TokenEntity,
  type TokenScorer,
} from "./types.ts";
export {
  aggregate,
  aggregateWords,
  argmax,
  gatherPreEntities,
  groupEntities,
  type LabelledSpan,
  type PreEntity,
  softmaxRows,
  splitTag,
  type TokenSpans,
} from "./aggregate.ts";
export { assignTokens, mergeWindowLogits, planWindows, type Window } from "./windows.ts";
export { modelScorer } from "./scorer.ts";
export {
  TokenClassificationPipeline,
  type TokenClassificationSettings,
  type TokenPrediction,
} from "./token_classification.ts";
export { pipeline, type PipelineOptions } from "./pipeline.ts";
export { type ConllInputSentence, formatConll, parseConllInput } from "./conll_io.ts";
