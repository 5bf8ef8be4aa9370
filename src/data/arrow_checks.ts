/**
 * Completeness checks for Arrow IPC bytes and `datasets` cache splits: a stream must end with the
 * end-of-stream marker (`0xFFFFFFFF 0x00000000`; a file cut at a record-batch boundary otherwise parses as
 * fewer rows), an IPC file with its `ARROW1` trailer, bytes must parse into a schema with columns (a
 * scrambled file is "not an Arrow IPC stream"), and a split must hold the row count its
 * `dataset_info.json` declares.
 * @module
 */
import { DataError } from "./errors.ts";

const _MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]; // "ARROW1"

function _startsWith(bytes: Uint8Array, at: number, pattern: readonly number[]): boolean {
  return at >= 0 && pattern.every((b, i) => bytes[at + i] === b);
}

/** Throws a {@linkcode DataError} unless `bytes` end like a complete Arrow IPC stream or file. */
export function checkArrowComplete(bytes: Uint8Array, file: string): void {
  if (bytes.length === 0) throw new DataError({ file }, "not an Arrow IPC stream: the file is empty");
  if (_startsWith(bytes, 0, _MAGIC)) {
    if (!_startsWith(bytes, bytes.length - 6, _MAGIC)) {
      throw new DataError({ file }, "truncated Arrow IPC file: the ARROW1 trailer is missing");
    }
    return;
  }
  const n = bytes.length;
  const eos = n >= 8 && bytes[n - 8] === 0xff && bytes[n - 7] === 0xff && bytes[n - 6] === 0xff &&
    bytes[n - 5] === 0xff && bytes[n - 4] === 0 && bytes[n - 3] === 0 && bytes[n - 2] === 0 &&
    bytes[n - 1] === 0;
  if (!eos) {
    throw new DataError(
      { file },
      `truncated Arrow IPC stream: no end-of-stream marker after ${n} bytes (the file was cut short)`,
    );
  }
}

/** Throws unless a parsed table has columns (garbage can parse as an empty schema). */
export function checkArrowSchema(columns: number, file: string): void {
  if (columns === 0) throw new DataError({ file }, "not an Arrow IPC stream: no schema with columns");
}

/**
 * Throws when `info.splits[split].num_examples` (dataset_info.json) is a number other than `rows`.
 */
export function checkSplitRows(info: unknown, split: string, rows: number, infoFile: string): void {
  const splits = (info as { splits?: Record<string, { num_examples?: unknown }> } | null)?.splits;
  const declared = splits?.[split]?.num_examples;
  if (typeof declared === "number" && declared !== rows) {
    throw new DataError(
      { file: infoFile, field: `splits.${split}.num_examples` },
      `declares ${declared} rows but the .arrow files hold ${rows} (a file is truncated or missing)`,
    );
  }
}
