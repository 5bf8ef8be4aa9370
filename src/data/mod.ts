/**
 * The data half of the token-classification chapter: CoNLL-2003 and other datasets (CoNLL files, HF
 * `datasets` Arrow folders, JSON Lines), HF fast-tokenizer word ids and offsets on top of
 * `@huggingface/tokenizers`, label alignment, the token-classification collator and a seeded batch loader.
 * Everything ends in Int32Arrays ready for GPU upload.
 *
 * ```ts
 * const raw = await loadConll2003();
 * const tokenizer = await loadTokenizer();
 * const train = tokenizeAndAlign(raw.train, tokenizer);
 * const loader = new BatchLoader(train.examples, { batchSize: 8, shuffle: true, seed: 42, padId: tokenizer.padId });
 * for (const batch of loader.batches(0)) batch.inputIds; // Int32Array [batchSize * seqLen]
 * ```
 * @module
 */
export { DataError, type DataErrorLocation } from "./errors.ts";
export { displayLocation, type Location, toUrl } from "./io.ts";
export {
  type ClassLabel,
  countDocuments,
  countTokens,
  type DatasetDict,
  decodeTags,
  type HfRow,
  hfRow,
  labelNames,
  type TokenDataset,
  type TokenRow,
} from "./dataset.ts";
export { labelIndex, sortLabelNames } from "./labels.ts";
export { type ConllOptions, loadConll, parseConll } from "./conll.ts";
export {
  CONLL2003_CHUNK_NAMES,
  CONLL2003_DIR,
  CONLL2003_FILES,
  CONLL2003_NER_NAMES,
  CONLL2003_OPTIONS,
  CONLL2003_POS_NAMES,
  loadConll2003,
} from "./conll2003.ts";
export {
  type ArrowOptions,
  loadArrowFile,
  loadDatasetsCache,
  loadFromDisk,
  loadSavedSplit,
  readArrowTable,
  splitFromArrowTables,
} from "./arrow.ts";
export { type ColumnKind, columnKind, parseFeatures } from "./hf_features.ts";
export { type JsonlOptions, loadJsonl, parseJsonl } from "./jsonl.ts";
export { loadDataset, type LoadOptions } from "./load.ts";
export {
  BERT_BASE_CASED_DIR,
  DEFAULT_MODEL_MAX_LENGTH,
  type EncodeOptions,
  loadTokenizer,
  type LoadTokenizerOptions,
  type TextEncoding,
  type TokenizerModelType,
  type WordEncoding,
  WordTokenizer,
} from "./tokenizer.ts";
export {
  applyTokenizerConfig,
  type MetaspaceInfo,
  type PipelineInfo,
  pipelineInfo,
  type TokenizerOverrides,
} from "./tokenizer_json.ts";
export { encodeTextWithOffsets } from "./offsets.ts";
export { alignLabelsWithTokens, type AlignOptions, continuationLabels, IGNORE_INDEX } from "./align.ts";
export {
  type PrepareOptions,
  tokenizeAndAlign,
  type TokenizedDataset,
  type TokenizedExample,
} from "./prepare.ts";
export { type Batch, type CollatableExample, collate, type CollateOptions } from "./collator.ts";
export { BatchLoader, type LoaderOptions, permutation, seededRandom } from "./loader.ts";
export { alignColumns, labelCells } from "./view.ts";
export { tokenizerJsonFromVocab } from "./vocab_tokenizer.ts";
