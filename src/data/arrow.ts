/**
 * Hugging Face `datasets` Arrow data: `save_to_disk` folders (`dataset_dict.json`, per-split
 * `dataset_info.json`, `state.json`, `data-*.arrow`) and the `datasets` cache layout (`dataset_info.json`
 * beside `<name>-<split>[-NNNNN-of-NNNNN].arrow`). The `.arrow` files are Arrow IPC streams, read with
 * `apache-arrow`. ClassLabel names come from `dataset_info.json` features (or, failing that, the Arrow schema
 * metadata). Every `Sequence(ClassLabel)` column becomes a tag column.
 * @module
 */
import { arrow } from "../deps.ts";
import type { ClassLabel, DatasetDict, TokenDataset, TokenRow } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { checkArrowComplete, checkArrowSchema, checkSplitRows } from "./arrow_checks.ts";
import { type ColumnKind, featuresOfInfo, featuresOfSchemaMetadata, parseFeatures } from "./hf_features.ts";
import {
  displayLocation,
  exists,
  isLocal,
  joinUrl,
  listDir,
  type Location,
  readBytes,
  readJson,
  toUrl,
} from "./io.ts";

/** Options for the Arrow loaders. */
export interface ArrowOptions {
  /** Column holding the words; default `tokens`. */
  readonly tokensColumn?: string;
}

type _Json = Record<string, unknown>;

function _isObject(value: unknown): value is _Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Parses Arrow IPC bytes (stream or file format) into a table, with a clear error naming the file. */
export function readArrowTable(bytes: Uint8Array, file: string): arrow.Table {
  let table: arrow.Table;
  try {
    table = arrow.tableFromIPC(bytes);
  } catch (error) {
    throw new DataError({ file }, `not a readable Arrow IPC stream: ${(error as Error).message}`);
  }
  checkArrowSchema(table.schema.fields.length, file);
  checkArrowComplete(bytes, file);
  return table;
}

function _strings(value: unknown, file: string, column: string, row: number): string[] {
  if (value === null || value === undefined) {
    throw new DataError({ file, field: column }, `row ${row}: null list`);
  }
  const out: string[] = [];
  let j = 0;
  for (const item of value as Iterable<unknown>) {
    if (typeof item !== "string") {
      throw new DataError(
        { file, field: column },
        `row ${row}: item ${j} is ${item === null ? "null" : typeof item}, not a string`,
      );
    }
    out.push(item);
    j++;
  }
  return out;
}

function _classIds(
  value: unknown,
  names: readonly string[],
  file: string,
  column: string,
  row: number,
): number[] {
  if (value === null || value === undefined) {
    throw new DataError({ file, field: column }, `row ${row}: null list`);
  }
  const out: number[] = [];
  let j = 0;
  for (const item of value as Iterable<unknown>) {
    const id = typeof item === "bigint" ? Number(item) : item;
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= names.length) {
      throw new DataError(
        { file, field: column },
        `row ${row}: item ${j} is ${String(item)}, not a class id 0..${names.length - 1}`,
      );
    }
    out.push(id);
    j++;
  }
  return out;
}

/**
 * Converts Arrow tables (the shards of one split, in order) into a split.
 * @param features the `features` object of dataset_info.json (undefined: use the schema metadata)
 */
export function splitFromArrowTables(
  tables: readonly { table: arrow.Table; file: string }[],
  split: string,
  features: unknown,
  source: string,
  options: ArrowOptions = {},
): TokenDataset {
  const tokensColumn = options.tokensColumn ?? "tokens";
  const rows: TokenRow[] = [];
  const otherColumns: Record<string, string> = {};
  let kinds: Map<string, ColumnKind> | undefined;
  let featureColumns: Record<string, ClassLabel> = {};
  for (const { table, file } of tables) {
    const columns = table.schema.fields.map((f) => f.name);
    if (!columns.includes(tokensColumn)) {
      throw new DataError(
        { file, field: tokensColumn },
        `no "${tokensColumn}" column; the Arrow columns are ${columns.join(", ") || "(none)"}`,
      );
    }
    if (!kinds) {
      const described = features ?? featuresOfSchemaMetadata(table.schema.metadata);
      kinds = described === undefined ? new Map() : parseFeatures(described, file);
      featureColumns = {};
      for (const [column, kind] of kinds) {
        if (column === tokensColumn || column === "id") continue;
        if (kind.kind === "classLabelSequence") featureColumns[column] = { names: kind.names };
        else otherColumns[column] = _whyNotTags(kind);
      }
      for (const column of columns) {
        if (column === tokensColumn || column === "id" || kinds.has(column)) continue;
        otherColumns[column] = described === undefined
          ? "no feature description (dataset_info.json features or Arrow schema metadata) gives ClassLabel names"
          : "not described in the features";
      }
    }
    for (const column of Object.keys(featureColumns)) {
      if (!columns.includes(column)) {
        throw new DataError(
          { file, field: column },
          "described as a ClassLabel sequence but missing from the Arrow columns",
        );
      }
    }
    const tokenVector = table.getChild(tokensColumn)!;
    const idVector = columns.includes("id") ? table.getChild("id") : null;
    const tagVectors = Object.keys(featureColumns).map((c) => [c, table.getChild(c)!] as const);
    for (let i = 0; i < table.numRows; i++) {
      const r = rows.length;
      const tokens = _strings(tokenVector.get(i), file, tokensColumn, r);
      const tags: Record<string, number[]> = {};
      for (const [column, vector] of tagVectors) {
        const ids = _classIds(vector.get(i), featureColumns[column].names, file, column, r);
        if (ids.length !== tokens.length) {
          throw new DataError(
            { file, field: column },
            `row ${r}: ${tokens.length} tokens but ${ids.length} ${column}; tokens and tags must have the same length`,
          );
        }
        tags[column] = ids;
      }
      const id = idVector ? idVector.get(i) : null;
      rows.push({
        id: id === null || id === undefined ? String(r) : String(id),
        tokens,
        tags,
        document: null,
      });
    }
  }
  return { split, source, features: featureColumns, rows, otherColumns };
}

function _whyNotTags(kind: ColumnKind): string {
  switch (kind.kind) {
    case "stringSequence":
      return "a sequence of strings, not of ClassLabel ids";
    case "string":
      return "a string column, not a sequence of ClassLabel ids";
    case "other":
      return `not a sequence of ClassLabel ids (${kind.type})`;
    default:
      return "not a sequence of ClassLabel ids";
  }
}

async function _readTables(files: readonly URL[]): Promise<{ table: arrow.Table; file: string }[]> {
  return await Promise.all(files.map(async (url) => {
    const file = displayLocation(url);
    return { table: readArrowTable(await readBytes(url), file), file };
  }));
}

/** Loads one split saved by `Dataset.save_to_disk` (a folder with `state.json`, `dataset_info.json`, `data-*.arrow`). */
export async function loadSavedSplit(
  dir: Location,
  splitName?: string,
  options: ArrowOptions = {},
): Promise<TokenDataset> {
  const stateUrl = joinUrl(dir, "state.json");
  const stateFile = displayLocation(stateUrl);
  const state = (await readJson(stateUrl)).value;
  if (!_isObject(state) || !Array.isArray(state._data_files) || state._data_files.length === 0) {
    throw new DataError({ file: stateFile, field: "_data_files" }, "must be a non-empty list of {filename}");
  }
  const files = state._data_files.map((entry, i) => {
    if (!_isObject(entry) || typeof entry.filename !== "string") {
      throw new DataError(
        { file: stateFile, field: `_data_files[${i}]` },
        "must be an object with a filename",
      );
    }
    return joinUrl(dir, entry.filename);
  });
  const infoUrl = joinUrl(dir, "dataset_info.json");
  const features = await exists(infoUrl) ? featuresOfInfo((await readJson(infoUrl)).value) : undefined;
  const split = splitName ?? (typeof state._split === "string" ? state._split : "train");
  return splitFromArrowTables(await _readTables(files), split, features, displayLocation(dir), options);
}

/**
 * Loads a `save_to_disk` folder: a `DatasetDict` (with `dataset_dict.json` listing the splits, one subfolder
 * each) or a single `Dataset` (with `state.json`; the split is named from `state.json`'s `_split`, else train).
 */
export async function loadFromDisk(dir: Location, options: ArrowOptions = {}): Promise<DatasetDict> {
  const dictUrl = joinUrl(dir, "dataset_dict.json");
  if (await exists(dictUrl)) {
    const dictFile = displayLocation(dictUrl);
    const value = (await readJson(dictUrl)).value;
    if (
      !_isObject(value) || !Array.isArray(value.splits) || !value.splits.every((s) => typeof s === "string")
    ) {
      throw new DataError({ file: dictFile, field: "splits" }, "must be a list of split names");
    }
    const dict: DatasetDict = {};
    for (const split of value.splits as string[]) {
      dict[split] = await loadSavedSplit(joinUrl(dir, split), split, options);
    }
    return dict;
  }
  const split = await loadSavedSplit(dir, undefined, options);
  return { [split.split]: split };
}

/** `camelcase_to_snakecase` of HF `datasets.naming` (file prefix of cache files). */
function _snakeCase(name: string): string {
  return name.replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2").replace(/([a-z\d])([A-Z])/g, "$1_$2").toLowerCase();
}

const _CACHE_FILE = /^(.+?)-(\w+(?:\.\w+)*)(?:-(\d{5})-of-(\d{5}))?\.arrow$/;

function _escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Split and shard of a cache file name, for the declared splits (or any split when none are declared). */
function _cacheFileSplit(name: string, declared: readonly string[]): { split: string; shard: number } | null {
  if (name.startsWith("cache-")) return null;
  for (const split of declared) {
    const m = new RegExp(`^.+-${_escapeRegExp(split)}(?:-(\\d{5})-of-\\d{5})?\\.arrow$`).exec(name);
    if (m) return { split, shard: m[1] === undefined ? 0 : Number(m[1]) };
  }
  if (declared.length) return null;
  const m = _CACHE_FILE.exec(name);
  return m ? { split: m[2], shard: m[3] === undefined ? 0 : Number(m[3]) } : null;
}

/**
 * Loads a split set from the `datasets` cache layout (e.g. `~/.cache/huggingface/datasets/conll2003/
 * conll2003/1.0.0/<hash>/`): `dataset_info.json` (features and splits) beside `<name>-<split>.arrow` or
 * sharded `<name>-<split>-00000-of-00002.arrow`. Local folders are listed; over http the file names are
 * derived from `dataset_info.json` (`dataset_name`/`builder_name`, `shard_lengths`).
 */
export async function loadDatasetsCache(dir: Location, options: ArrowOptions = {}): Promise<DatasetDict> {
  const infoUrl = joinUrl(dir, "dataset_info.json");
  const infoFile = displayLocation(infoUrl);
  const info = (await readJson(infoUrl)).value;
  if (!_isObject(info)) throw new DataError({ file: infoFile }, "must hold a JSON object");
  const features = featuresOfInfo(info);
  const declared = _isObject(info.splits) ? Object.keys(info.splits) : [];
  const filesBySplit = new Map<string, { name: string; shard: number }[]>();
  if (isLocal(dir)) {
    for (const name of await listDir(dir)) {
      const found = _cacheFileSplit(name, declared);
      if (!found) continue;
      const list = filesBySplit.get(found.split) ?? [];
      list.push({ name, shard: found.shard });
      filesBySplit.set(found.split, list);
    }
  } else {
    const name = info.dataset_name ?? info.builder_name;
    if (typeof name !== "string") {
      throw new DataError(
        { file: infoFile, field: "dataset_name" },
        "needed to name the .arrow files over http",
      );
    }
    for (const split of declared) {
      const lengths = (info.splits as _Json)[split];
      const shards = _isObject(lengths) && Array.isArray(lengths.shard_lengths)
        ? lengths.shard_lengths.length
        : 1;
      const prefix = `${_snakeCase(name)}-${split}`;
      filesBySplit.set(
        split,
        shards <= 1 ? [{ name: `${prefix}.arrow`, shard: 0 }] : Array.from({ length: shards }, (_, i) => ({
          name: `${prefix}-${String(i).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.arrow`,
          shard: i,
        })),
      );
    }
  }
  const missing = declared.filter((s) => !filesBySplit.has(s));
  if (filesBySplit.size === 0 || missing.length) {
    throw new DataError(
      { file: displayLocation(dir) },
      `no <name>-<split>.arrow files for ${missing.length ? missing.join(", ") : "any split"}`,
    );
  }
  const order = declared.length ? declared : [...filesBySplit.keys()].sort();
  const dict: DatasetDict = {};
  for (const split of order) {
    const files = filesBySplit.get(split)!.sort((a, b) => a.shard - b.shard).map((f) => joinUrl(dir, f.name));
    dict[split] = splitFromArrowTables(
      await _readTables(files),
      split,
      features,
      displayLocation(dir),
      options,
    );
    checkSplitRows(info, split, dict[split].rows.length, infoFile);
  }
  return dict;
}

/** Loads one `.arrow` file (IPC stream) as a split; features come from the schema metadata. */
export async function loadArrowFile(
  file: Location,
  split = "train",
  options: ArrowOptions = {},
): Promise<TokenDataset> {
  const tables = await _readTables([toUrl(file)]);
  return splitFromArrowTables(tables, split, undefined, displayLocation(file), options);
}
