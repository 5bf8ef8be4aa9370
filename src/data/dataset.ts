/**
 * The in-memory token-classification dataset every loader produces, shaped like a Hugging Face `datasets`
 * split: rows with `id`, `tokens` and integer tag columns whose ClassLabel names are kept alongside.
 * @module
 */
import { DataError } from "./errors.ts";

/** A ClassLabel feature: the label names, index = class id (as in HF `datasets.ClassLabel`). */
export interface ClassLabel {
  /** Label names in class-id order. */
  readonly names: readonly string[];
}

/** One sentence. */
export interface TokenRow {
  /** Row identifier; the row index as a string for the HF-style loaders ("0", "1", ...). */
  readonly id: string;
  /** The words (pre-split tokens). */
  readonly tokens: readonly string[];
  /** Tag columns by name (e.g. `ner_tags`): one class id per word. */
  readonly tags: Readonly<Record<string, readonly number[]>>;
  /**
   * Index of the document the sentence belongs to (0-based, contiguous, in file order), or `null` when the
   * source has no document boundaries (Arrow / JSON Lines without a `document` column).
   */
  readonly document: number | null;
}

/** One split of a dataset. */
export interface TokenDataset {
  /** Split name, e.g. `train`. */
  readonly split: string;
  /** Where the rows were read from (path or URL), for messages. */
  readonly source: string;
  /** Tag columns and their ClassLabel names, in column order. */
  readonly features: Readonly<Record<string, ClassLabel>>;
  /** The sentences. */
  readonly rows: readonly TokenRow[];
  /**
   * Source columns that were not loaded as tag columns, with the reason (e.g. an Arrow list of strings
   * instead of ClassLabel ids). Present only for sources that can hold such columns.
   */
  readonly otherColumns?: Readonly<Record<string, string>>;
}

/** Splits by name, like HF `DatasetDict`. */
export type DatasetDict = Record<string, TokenDataset>;

/** A plain HF-style row object (`{id, tokens, pos_tags, chunk_tags, ner_tags}`), e.g. for JSON output. */
export type HfRow = { id: string; tokens: string[] } & Record<string, string | string[] | number[]>;

/** The row at `index` as HF `datasets` would print it: `id`, `tokens`, then the tag columns in order. */
export function hfRow(dataset: TokenDataset, index: number): HfRow {
  const row = _rowAt(dataset, index);
  const out: HfRow = { id: row.id, tokens: [...row.tokens] } as HfRow;
  for (const column of Object.keys(dataset.features)) out[column] = [...row.tags[column]];
  return out;
}

/** The label names of the tags of row `index` in `column` (e.g. `["B-ORG", "O", ...]`). */
export function decodeTags(dataset: TokenDataset, index: number, column: string): string[] {
  const names = labelNames(dataset, column);
  return _rowAt(dataset, index).tags[column].map((id) => names[id]);
}

/** The ClassLabel names of a tag column; throws a {@linkcode DataError} listing the columns if it is absent. */
export function labelNames(dataset: TokenDataset, column: string): readonly string[] {
  const feature = dataset.features[column];
  if (!feature) {
    const have = Object.keys(dataset.features);
    const other = dataset.otherColumns?.[column];
    const reason = other === undefined ? "no such tag column" : `not a tag column: ${other}`;
    const columns = have.length ? have.join(", ") : "no tag columns";
    throw new DataError(
      { file: dataset.source, field: column },
      `${reason}; the ${dataset.split} split has ${columns}`,
    );
  }
  return feature.names;
}

/** Total number of words in a split. */
export function countTokens(dataset: TokenDataset): number {
  let n = 0;
  for (const row of dataset.rows) n += row.tokens.length;
  return n;
}

/** Number of distinct documents (rows with `document === null` are not counted). */
export function countDocuments(dataset: TokenDataset): number {
  const seen = new Set<number>();
  for (const row of dataset.rows) if (row.document !== null) seen.add(row.document);
  return seen.size;
}

function _rowAt(dataset: TokenDataset, index: number): TokenRow {
  const row = dataset.rows[index];
  if (!Number.isInteger(index) || row === undefined) {
    throw new RangeError(
      `row ${index} out of range: the ${dataset.split} split has ${dataset.rows.length} rows`,
    );
  }
  return row;
}
