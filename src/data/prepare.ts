/**
 * A whole split → model inputs: tokenize every sentence's words and align its labels (the course's
 * `tokenize_and_align_labels` mapped over the dataset).
 * @module
 */
import { alignLabelsWithTokens, type AlignOptions, continuationLabels } from "./align.ts";
import { labelNames, type TokenDataset } from "./dataset.ts";
import { DataError } from "./errors.ts";
import type { EncodeOptions, WordTokenizer } from "./tokenizer.ts";

/** One tokenized sentence, ready for the collator. */
export interface TokenizedExample {
  /** Index of the source row in the split. */
  readonly row: number;
  /** Token ids. */
  readonly inputIds: Int32Array;
  /** Segment ids. */
  readonly tokenTypeIds: Int32Array;
  /** Word id per token; `null` for special tokens. */
  readonly wordIds: readonly (number | null)[];
  /** Aligned labels (-100 where ignored), or `null` when the split has no label column. */
  readonly labels: Int32Array | null;
  /** Whether truncation cut tokens off. */
  readonly truncated: boolean;
}

/** A tokenized split. */
export interface TokenizedDataset {
  /** Split name. */
  readonly split: string;
  /** Tag column used as labels (null if none). */
  readonly labelColumn: string | null;
  /** Its ClassLabel names (empty if no labels). */
  readonly labelNames: readonly string[];
  /** One example per row, in row order. */
  readonly examples: readonly TokenizedExample[];
  /** Number of truncated sentences (0 for CoNLL-2003 at 512). */
  readonly truncatedCount: number;
  /** Number of words that produced no token at all (e.g. only control characters); their labels are lost. */
  readonly emptyWordCount: number;
  /** Longest example in tokens. */
  readonly maxTokens: number;
}

/** Options for {@linkcode tokenizeAndAlign}. */
export interface PrepareOptions extends AlignOptions, EncodeOptions {
  /**
   * Tag column to align (default `ner_tags`, or the only tag column if there is just one). `null` tokenizes
   * without labels.
   */
  readonly labelColumn?: string | null;
}

function _pickLabelColumn(dataset: TokenDataset, requested: string | null | undefined): string | null {
  if (requested === null) return null;
  if (requested !== undefined) return requested;
  const columns = Object.keys(dataset.features);
  if (columns.includes("ner_tags")) return "ner_tags";
  if (columns.length === 1) return columns[0];
  throw new DataError(
    { file: dataset.source },
    `no ner_tags column; choose the label column among ${columns.join(", ") || "(none)"}`,
  );
}

/** The start of a sentence for messages. */
function _preview(tokens: readonly string[]): string {
  const text = tokens.join(" ");
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Tokenizes every row of a split (HF fast-tokenizer semantics, see `WordTokenizer.encodeWords`) and aligns
 * the chosen tag column (course rule, or first-subtoken-only). Output arrays are Int32Array.
 */
export function tokenizeAndAlign(
  dataset: TokenDataset,
  tokenizer: WordTokenizer,
  options: PrepareOptions = {},
): TokenizedDataset {
  const column = _pickLabelColumn(dataset, options.labelColumn);
  const names = column === null ? [] : labelNames(dataset, column);
  const continuation = continuationLabels(names);
  const examples: TokenizedExample[] = new Array(dataset.rows.length);
  let truncatedCount = 0;
  let emptyWordCount = 0;
  let maxTokens = 0;
  dataset.rows.forEach((row, r) => {
    const encoding = tokenizer.encodeWords(row.tokens, options);
    for (const word of row.tokens) if (tokenizer.wordPieceIds(word).length === 0) emptyWordCount++;
    let labels: Int32Array | null = null;
    if (column !== null) {
      try {
        labels = alignLabelsWithTokens(row.tags[column], encoding.wordIds, names, options, continuation);
      } catch (error) {
        throw new DataError(
          { file: dataset.source, field: column },
          `sentence ${r} (id ${row.id}, "${_preview(row.tokens)}"): ${(error as Error).message}`,
        );
      }
    }
    if (encoding.truncated) truncatedCount++;
    maxTokens = Math.max(maxTokens, encoding.inputIds.length);
    examples[r] = {
      row: r,
      inputIds: encoding.inputIds,
      tokenTypeIds: encoding.tokenTypeIds,
      wordIds: encoding.wordIds,
      labels,
      truncated: encoding.truncated,
    };
  });
  return {
    split: dataset.split,
    labelColumn: column,
    labelNames: names,
    examples,
    truncatedCount,
    emptyWordCount,
    maxTokens,
  };
}
