/**
 * CoNLL-style column files: one token per line, columns separated by spaces or tabs, blank lines between
 * sentences, `-DOCSTART-` lines between documents.
 * @module
 */
import type { ClassLabel, DatasetDict, TokenDataset, TokenRow } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { displayLocation, type Location } from "./io.ts";
import { readUtf8Strict } from "./utf8.ts";
import { labelIndex, sortLabelNames } from "./labels.ts";

/** How to read a CoNLL-style file. */
export interface ConllOptions {
  /** Column holding the word (0-based; negative counts from the end). Default 0. */
  readonly tokenColumn?: number;
  /** Tag columns to read, by output name (0-based; negative from the end). Default `{ ner_tags: -1 }`. */
  readonly tagColumns?: Readonly<Record<string, number>>;
  /**
   * Label names per tag column, in class-id order. A column with names given is strict: an unknown tag is
   * an error. Columns without given names collect them from the data, sorted with {@linkcode sortLabelNames}
   * (over all files loaded together, so every split gets the same ids).
   */
  readonly labelNames?: Readonly<Record<string, readonly string[]>>;
  /** Required number of columns per token line. Default: the count of the first token line of each file. */
  readonly columnCount?: number;
  /**
   * Column separator: `"space"` (exactly one space, as HF's conll2003 script), `"tab"`, or `"whitespace"`
   * (any run of spaces/tabs; leading and trailing ones ignored). Default `"whitespace"`.
   */
  readonly separator?: "space" | "tab" | "whitespace";
  /** Lines starting with this marker are document boundaries, not tokens. Default `-DOCSTART-`. */
  readonly docstart?: string;
}

/** A parsed sentence before tag strings are mapped to ids. */
interface _RawSentence {
  tokens: string[];
  tags: string[][];
  line: number;
  document: number;
}

function _splitter(separator: ConllOptions["separator"]): (line: string) => string[] {
  switch (separator ?? "whitespace") {
    case "space":
      return (line) => line.split(" ");
    case "tab":
      return (line) => line.split("\t");
    case "whitespace":
      return (line) => line.trim().split(/[ \t]+/);
    default:
      throw new Error(`unknown CoNLL separator "${separator}" (use "space", "tab" or "whitespace")`);
  }
}

function _resolveColumn(index: number, count: number, file: string, line: number, name: string): number {
  const resolved = index < 0 ? count + index : index;
  if (!Number.isInteger(index) || resolved < 0 || resolved >= count) {
    throw new DataError(
      { file, line, field: name },
      `column ${index} does not exist in a ${count}-column line`,
    );
  }
  return resolved;
}

function _parseRaw(text: string, file: string, options: ConllOptions): _RawSentence[] {
  const split = _splitter(options.separator);
  const docstart = options.docstart ?? "-DOCSTART-";
  const tagColumns = Object.entries(options.tagColumns ?? { ner_tags: -1 });
  let columnCount = options.columnCount;
  let resolved = false;
  let tokenCol = 0;
  let tagCols: number[] = [];
  const sentences: _RawSentence[] = [];
  let current: _RawSentence | null = null;
  let document = 0;
  let documentHasSentences = false;
  const close = () => {
    if (current) sentences.push(current);
    current = null;
  };
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    let line = text.slice(start, end);
    start = end + 1;
    lineNo++;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim() === "") {
      close();
      if (end === text.length) break;
      continue;
    }
    if (line.startsWith(docstart)) {
      close();
      if (documentHasSentences) document++;
      documentHasSentences = false;
      continue;
    }
    const fields = split(line);
    const count = columnCount ??= fields.length;
    if (!resolved) {
      tokenCol = _resolveColumn(options.tokenColumn ?? 0, count, file, lineNo, "token column");
      tagCols = tagColumns.map(([name, index]) => _resolveColumn(index, count, file, lineNo, name));
      resolved = true;
    }
    if (fields.length !== columnCount) {
      throw new DataError(
        { file, line: lineNo },
        `expected ${columnCount} columns but found ${fields.length} in ${JSON.stringify(line)}`,
      );
    }
    if (!current) {
      current = { tokens: [], tags: tagCols.map(() => []), line: lineNo, document };
      documentHasSentences = true;
    }
    current.tokens.push(fields[tokenCol]);
    for (let c = 0; c < tagCols.length; c++) current.tags[c].push(fields[tagCols[c]]);
    if (end === text.length) break;
  }
  close();
  return sentences;
}

function _toDataset(
  split: string,
  file: string,
  raw: _RawSentence[],
  names: Record<string, readonly string[]>,
  given: ReadonlySet<string>,
): TokenDataset {
  const columns = Object.keys(names);
  const indexes = columns.map((c) => labelIndex(names[c]));
  const rows: TokenRow[] = raw.map((sentence, i) => {
    const tags: Record<string, number[]> = {};
    columns.forEach((column, c) => {
      const index = indexes[c];
      tags[column] = sentence.tags[c].map((tag, j) => {
        const id = index.get(tag);
        if (id === undefined) {
          const reason = given.has(column)
            ? `unknown tag "${tag}"; the given names are ${names[column].join(" ")}`
            : `tag "${tag}" missing from the collected names`;
          throw new DataError({ file, line: sentence.line + j, field: column }, reason);
        }
        return id;
      });
    });
    return { id: String(i), tokens: sentence.tokens, tags, document: sentence.document };
  });
  const features: Record<string, ClassLabel> = {};
  for (const column of columns) features[column] = { names: [...names[column]] };
  return { split, source: file, features, rows };
}

function _labelNames(
  raws: _RawSentence[][],
  options: ConllOptions,
): { names: Record<string, readonly string[]>; given: Set<string> } {
  const columns = Object.keys(options.tagColumns ?? { ner_tags: -1 });
  const names: Record<string, readonly string[]> = {};
  const given = new Set<string>();
  columns.forEach((column, c) => {
    const fixed = options.labelNames?.[column];
    if (fixed) {
      names[column] = fixed;
      given.add(column);
      return;
    }
    const seen = new Set<string>();
    for (const raw of raws) for (const s of raw) for (const tag of s.tags[c]) seen.add(tag);
    names[column] = sortLabelNames(seen);
  });
  for (const column of Object.keys(options.labelNames ?? {})) {
    if (!columns.includes(column)) {
      throw new Error(
        `labelNames given for "${column}", which is not one of the tag columns ${columns.join(", ")}`,
      );
    }
  }
  return { names, given };
}

/**
 * Parses the text of one CoNLL-style file into a split. Tag names not given in `options.labelNames` are
 * collected from this text alone; use {@linkcode loadConll} to share collected names across splits.
 * @param text file contents
 * @param source path or URL shown in error messages
 * @param split split name to record
 */
export function parseConll(
  text: string,
  source: string,
  split = "train",
  options: ConllOptions = {},
): TokenDataset {
  const raw = _parseRaw(text.replace(/^\uFEFF/, ""), source, options); // a BOM would hide -DOCSTART-
  const { names, given } = _labelNames([raw], options);
  return _toDataset(split, source, raw, names, given);
}

/**
 * Loads CoNLL-style files, one per split (`{ train: "train.txt", validation: ... }`). Collected label names
 * are the union over all the files, so the class ids agree between splits.
 */
export async function loadConll(
  files: Readonly<Record<string, Location>>,
  options: ConllOptions = {},
): Promise<DatasetDict> {
  const splits = Object.keys(files);
  // Strict UTF-8 (BOM dropped, invalid bytes an error naming file, line and byte offset).
  const texts = await Promise.all(splits.map((split) => readUtf8Strict(files[split])));
  const sources = splits.map((split) => displayLocation(files[split]));
  const raws = texts.map((text, i) => _parseRaw(text, sources[i], options));
  const { names, given } = _labelNames(raws, options);
  const dict: DatasetDict = {};
  splits.forEach((split, i) => dict[split] = _toDataset(split, sources[i], raws[i], names, given));
  return dict;
}
