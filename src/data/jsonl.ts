/**
 * JSON Lines datasets: one JSON object per line with a `tokens` list and tag lists (class ids or tag
 * strings), e.g. what HF `Dataset.to_json` writes.
 * @module
 */
import type { ClassLabel, DatasetDict, TokenDataset, TokenRow } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { displayLocation, type Location, parseJsonText, readText } from "./io.ts";
import { labelIndex, sortLabelNames } from "./labels.ts";

/** Options for JSON Lines. */
export interface JsonlOptions {
  /** Key holding the words; default `tokens`. */
  readonly tokensField?: string;
  /**
   * Tag keys to read. Default: every key of the first object whose value is a list, other than the tokens
   * (e.g. `pos_tags`, `chunk_tags`, `ner_tags`).
   */
  readonly tagFields?: readonly string[];
  /**
   * Label names per tag key. Required for keys holding class ids; for keys holding tag strings, names given
   * make unknown tags an error, and otherwise names are collected (sorted, over all files loaded together).
   */
  readonly labelNames?: Readonly<Record<string, readonly string[]>>;
}

interface _RawRow {
  id: string;
  tokens: string[];
  tags: Record<string, (number | string)[]>;
  line: number;
}

function _isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function _parseRaw(text: string, file: string, options: JsonlOptions): { rows: _RawRow[]; fields: string[] } {
  const tokensField = options.tokensField ?? "tokens";
  let fields = options.tagFields ? [...options.tagFields] : undefined;
  const rows: _RawRow[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, index) => {
    const line = index + 1;
    const content = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (content.trim() === "") return;
    const value = parseJsonText(content, file, line);
    if (!_isObject(value)) throw new DataError({ file, line }, "each line must be a JSON object");
    const tokens = value[tokensField];
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "string")) {
      throw new DataError({ file, line, field: tokensField }, "missing or not a list of strings");
    }
    fields ??= Object.keys(value).filter((k) => k !== tokensField && Array.isArray(value[k]));
    const tags: Record<string, (number | string)[]> = {};
    for (const field of fields) {
      const list = value[field];
      if (!Array.isArray(list)) throw new DataError({ file, line, field }, "missing or not a list");
      if (list.length !== tokens.length) {
        throw new DataError(
          { file, line, field },
          `${tokens.length} tokens but ${list.length} tags; tokens and tags must have the same length`,
        );
      }
      list.forEach((tag, j) => {
        if (typeof tag !== "string" && !(typeof tag === "number" && Number.isInteger(tag))) {
          throw new DataError(
            { file, line, field },
            `item ${j} is ${JSON.stringify(tag)}, not a tag string or class id`,
          );
        }
      });
      tags[field] = list;
    }
    const id = value.id;
    rows.push({
      id: typeof id === "string" || typeof id === "number" ? String(id) : String(rows.length),
      tokens,
      tags,
      line,
    });
  });
  return { rows, fields: fields ?? [] };
}

function _names(parsed: { rows: _RawRow[]; file: string }[], fields: string[], options: JsonlOptions) {
  const names: Record<string, readonly string[]> = {};
  for (const field of fields) {
    const given = options.labelNames?.[field];
    if (given) {
      names[field] = given;
      continue;
    }
    const seen = new Set<string>();
    for (const { rows, file } of parsed) {
      for (const row of rows) {
        for (const tag of row.tags[field]) {
          if (typeof tag === "number") {
            throw new DataError(
              { file, line: row.line, field },
              "holds class ids, so its label names must be given (labelNames option / --label-names)",
            );
          }
          seen.add(tag);
        }
      }
    }
    names[field] = sortLabelNames(seen);
  }
  return names;
}

function _toDataset(
  split: string,
  file: string,
  rows: _RawRow[],
  names: Record<string, readonly string[]>,
): TokenDataset {
  const fields = Object.keys(names);
  const indexes = fields.map((f) => labelIndex(names[f]));
  const out: TokenRow[] = rows.map((row) => {
    const tags: Record<string, number[]> = {};
    fields.forEach((field, f) => {
      const count = names[field].length;
      tags[field] = row.tags[field].map((tag, j) => {
        const id = typeof tag === "number" ? tag : indexes[f].get(tag);
        if (id === undefined || id < 0 || id >= count) {
          const what = typeof tag === "number"
            ? `class id ${tag} is outside 0..${count - 1}`
            : `unknown tag "${tag}"`;
          throw new DataError(
            { file, line: row.line, field },
            `item ${j}: ${what}; the names are ${names[field].join(" ")}`,
          );
        }
        return id;
      });
    });
    return { id: row.id, tokens: row.tokens, tags, document: null };
  });
  const features: Record<string, ClassLabel> = {};
  for (const field of fields) features[field] = { names: [...names[field]] };
  return { split, source: file, features, rows: out };
}

/** Parses JSON Lines text into one split (collected names come from this text alone). */
export function parseJsonl(
  text: string,
  source: string,
  split = "train",
  options: JsonlOptions = {},
): TokenDataset {
  const { rows, fields } = _parseRaw(text, source, options);
  return _toDataset(split, source, rows, _names([{ rows, file: source }], fields, options));
}

/** Loads JSON Lines files, one per split; collected tag names are shared across the splits. */
export async function loadJsonl(
  files: Readonly<Record<string, Location>>,
  options: JsonlOptions = {},
): Promise<DatasetDict> {
  const splits = Object.keys(files);
  const parsed = await Promise.all(splits.map(async (split) => {
    const file = displayLocation(files[split]);
    return { ...(_parseRaw(await readText(files[split]), file, options)), file };
  }));
  const fields = options.tagFields ? [...options.tagFields] : parsed.find((p) => p.rows.length)?.fields ?? [];
  for (const p of parsed) {
    const differ = p.rows.length > 0 && p.fields.join() !== fields.join();
    if (differ) {
      throw new DataError(
        { file: p.file },
        `tag keys ${p.fields.join(", ")} differ from ${fields.join(", ")}`,
      );
    }
  }
  const names = _names(parsed, fields, options);
  const dict: DatasetDict = {};
  splits.forEach((split, i) => dict[split] = _toDataset(split, parsed[i].file, parsed[i].rows, names));
  return dict;
}
