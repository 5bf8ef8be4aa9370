/**
 * Hugging Face `datasets` feature descriptions (the `features` object of `dataset_info.json`, also stored in
 * the Arrow schema metadata under `huggingface`): which columns are sequences of ClassLabel and their names.
 * @module
 */
import { DataError } from "./errors.ts";

/** What a column holds, as far as token classification cares. */
export type ColumnKind =
  | { readonly kind: "classLabelSequence"; readonly names: readonly string[] }
  | { readonly kind: "stringSequence" }
  | { readonly kind: "string" }
  | { readonly kind: "other"; readonly type: string };

type _Json = Record<string, unknown>;

function _isObject(value: unknown): value is _Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const _SEQUENCE_TYPES = new Set(["Sequence", "List", "LargeList"]);
const _STRING_DTYPES = new Set(["string", "large_string"]);

/** The element feature of a sequence feature (`Sequence`/`List`/`LargeList` or a JSON list), else undefined. */
function _elementOf(feature: unknown): unknown {
  if (Array.isArray(feature)) return feature.length === 1 ? feature[0] : undefined;
  if (_isObject(feature) && _SEQUENCE_TYPES.has(String(feature._type))) return feature.feature;
  return undefined;
}

function _classLabelNames(feature: unknown, file: string, column: string): readonly string[] | undefined {
  if (!_isObject(feature) || feature._type !== "ClassLabel") return undefined;
  if (!Array.isArray(feature.names) || !feature.names.every((n) => typeof n === "string")) {
    throw new DataError({ file, field: column }, "ClassLabel without a names list of strings");
  }
  return feature.names as string[];
}

/** Classifies one column's feature description. */
export function columnKind(feature: unknown, file: string, column: string): ColumnKind {
  const element = _elementOf(feature);
  if (element !== undefined) {
    const names = _classLabelNames(element, file, column);
    if (names) return { kind: "classLabelSequence", names };
    if (_isObject(element) && element._type === "Value" && _STRING_DTYPES.has(String(element.dtype))) {
      return { kind: "stringSequence" };
    }
    return { kind: "other", type: `sequence of ${JSON.stringify(element)}` };
  }
  if (_isObject(feature) && feature._type === "Value" && _STRING_DTYPES.has(String(feature.dtype))) {
    return { kind: "string" };
  }
  return { kind: "other", type: JSON.stringify(feature) };
}

/** Classifies every column of a `features` object (column order kept). */
export function parseFeatures(features: unknown, file: string): Map<string, ColumnKind> {
  if (!_isObject(features)) {
    throw new DataError({ file, field: "features" }, "must be an object of column features");
  }
  const out = new Map<string, ColumnKind>();
  for (const [column, feature] of Object.entries(features)) {
    out.set(column, columnKind(feature, file, column));
  }
  return out;
}

/** The `features` object from `dataset_info.json` contents, or undefined if absent. */
export function featuresOfInfo(info: unknown): unknown {
  return _isObject(info) ? info.features ?? undefined : undefined;
}

/** The `features` object stored in Arrow schema metadata (`huggingface` → `info.features`), if any. */
export function featuresOfSchemaMetadata(metadata: ReadonlyMap<string, string>): unknown {
  const raw = metadata.get("huggingface");
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw);
    return _isObject(parsed) && _isObject(parsed.info) ? parsed.info.features : undefined;
  } catch {
    return undefined;
  }
}
