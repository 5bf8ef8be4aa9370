/**
 * Test helpers: write tiny Hugging Face `datasets` folders (save_to_disk and cache layouts) with
 * apache-arrow's RecordBatchStreamWriter, the IPC *stream* format `datasets` uses.
 * @module
 */
import { arrow } from "../../src/deps.ts";
import { CONLL2003_CHUNK_NAMES, CONLL2003_NER_NAMES, CONLL2003_POS_NAMES } from "../../src/data/conll2003.ts";

/** One row as HF stores it. */
export interface FixtureRow {
  id?: string;
  tokens: (string | null)[];
  [column: string]: unknown;
}

/** HF features JSON for conll2003-like columns, in the given sequence style. */
export function conllFeatures(style: "Sequence" | "List" = "Sequence"): Record<string, unknown> {
  const seq = (feature: unknown) => ({ feature, _type: style });
  const classLabel = (names: readonly string[]) => ({ names: [...names], _type: "ClassLabel" });
  return {
    id: { dtype: "string", _type: "Value" },
    tokens: seq({ dtype: "string", _type: "Value" }),
    pos_tags: seq(classLabel(CONLL2003_POS_NAMES)),
    chunk_tags: seq(classLabel(CONLL2003_CHUNK_NAMES)),
    ner_tags: seq(classLabel(CONLL2003_NER_NAMES)),
  };
}

/** Builds an Arrow IPC stream: `id` utf8, list<utf8> for string lists, list<int64> for number lists. */
export function arrowStream(
  rows: readonly Record<string, unknown>[],
  columns: readonly string[],
  metadata?: Record<string, unknown>,
): Uint8Array {
  const vectors: Record<string, arrow.Vector> = {};
  for (const column of columns) {
    const values = rows.map((r) => r[column]);
    const sample = values.find((v) => v !== null && v !== undefined);
    if (typeof sample === "string") {
      vectors[column] = arrow.vectorFromArray(values as string[], new arrow.Utf8());
    } else if (Array.isArray(sample) && sample.some((x) => typeof x === "string")) {
      vectors[column] = arrow.vectorFromArray(
        values,
        new arrow.List(new arrow.Field("item", new arrow.Utf8(), true)),
      );
    } else {
      const big = values.map((
        v,
      ) => (v === null ? null : (v as (number | null)[]).map((x) => (x === null ? null : BigInt(x)))));
      vectors[column] = arrow.vectorFromArray(
        big,
        new arrow.List(new arrow.Field("item", new arrow.Int64(), true)),
      );
    }
  }
  let table = new arrow.Table(vectors);
  if (metadata) {
    const meta = new Map([["huggingface", JSON.stringify({ info: { features: metadata } })]]);
    table = new arrow.Table(new arrow.Schema(table.schema.fields, meta), table.batches);
  }
  return arrow.RecordBatchStreamWriter.writeAll(table).toUint8Array(true);
}

/** Writes one save_to_disk split folder: data files, dataset_info.json, state.json. */
export async function writeSavedSplit(
  dir: string,
  split: string,
  shards: readonly Record<string, unknown>[][],
  columns: readonly string[],
  features: Record<string, unknown> | null,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const names = shards.map((_, i) =>
    `data-${String(i).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.arrow`
  );
  for (let i = 0; i < shards.length; i++) {
    await Deno.writeFile(`${dir}/${names[i]}`, arrowStream(shards[i], columns));
  }
  const info = features
    ? { citation: "", description: "", features, homepage: "", license: "" }
    : { description: "" };
  await Deno.writeTextFile(`${dir}/dataset_info.json`, JSON.stringify(info, null, 2));
  const state = {
    _data_files: names.map((filename) => ({ filename })),
    _fingerprint: "0123456789abcdef",
    _format_columns: null,
    _format_kwargs: {},
    _format_type: null,
    _output_all_columns: false,
    _split: split,
  };
  await Deno.writeTextFile(`${dir}/state.json`, JSON.stringify(state, null, 2));
}

/** Writes a save_to_disk DatasetDict folder. */
export async function writeSavedDict(
  dir: string,
  splits: Record<string, Record<string, unknown>[]>,
  columns: readonly string[] = ["id", "tokens", "pos_tags", "chunk_tags", "ner_tags"],
  features: Record<string, unknown> | null = conllFeatures(),
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/dataset_dict.json`, JSON.stringify({ splits: Object.keys(splits) }));
  for (const [split, rows] of Object.entries(splits)) {
    await writeSavedSplit(`${dir}/${split}`, split, [rows], columns, features);
  }
}

/** The first rows of CoNLL-2003 train, HF-shaped. */
export const TRAIN_HEAD: Record<string, unknown>[] = [
  {
    id: "0",
    tokens: ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
    pos_tags: [22, 42, 16, 21, 35, 37, 16, 21, 7],
    chunk_tags: [11, 21, 11, 12, 21, 22, 11, 12, 0],
    ner_tags: [3, 0, 7, 0, 0, 0, 7, 0, 0],
  },
  { id: "1", tokens: ["Peter", "Blackburn"], pos_tags: [22, 22], chunk_tags: [11, 12], ner_tags: [1, 2] },
  { id: "2", tokens: ["BRUSSELS", "1996-08-22"], pos_tags: [22, 11], chunk_tags: [11, 12], ner_tags: [5, 0] },
];
