/**
 * Row-chunked parameters: a word-embedding table larger than one storage binding (roberta-base's 50265×768
 * word embeddings are 154 MB, over lavapipe's 128 MiB `maxStorageBufferBindingSize`) is stored as several
 * row-chunk tensors, each its own trainable tensor in `model.params` named `<checkpoint key>[start:end]`
 * (rows start..end−1). Everything that works tensor by tensor (AdamW, gradient norm and clipping, zeroing,
 * NaN checks, data parallel) then handles them unchanged; what reads or writes checkpoints groups the
 * chunks back under the one HF key with {@link checkpointParameters}, and the embedding op takes the chunk
 * list ({@link TokenClassifierBase.table}). Parameters that fit one binding stay single tensors named by
 * their checkpoint key.
 * @module
 */
import { gpu } from "../engine/gpu.ts";
import { Tensor } from "../engine/tensor.ts";

let _maxRows: number | null = null;

/** Largest parameter (bytes) this project chunks: beyond it a size is treated as a config mistake. */
export const MAX_CHUNKED_BYTES = 16 * 2 ** 30;

/**
 * Overrides the rows per chunk (tests: a tiny value chunks even tiny tables); `null` restores the
 * default, which chunks only parameters over the device's binding limit.
 */
export function setMaxChunkRows(rows: number | null): void {
  if (rows !== null && (!Number.isInteger(rows) || rows < 1)) {
    throw new RangeError(`setMaxChunkRows: rows must be a positive integer or null, got ${rows}`);
  }
  _maxRows = rows;
}

/** The rows-per-chunk override ({@link setMaxChunkRows}), or null. */
export function maxChunkRows(): number | null {
  return _maxRows;
}

/** Bytes one tensor may hold to be bound whole: min(maxStorageBufferBindingSize, maxBufferSize), 16-aligned. */
export function bindingLimitBytes(): number {
  let bytes = 2 ** 31 - 16;
  try {
    const l = gpu().limits;
    bytes = Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize);
  } catch { /* no device yet: a 2 GiB default */ }
  return Math.floor(bytes / 16) * 16;
}

/**
 * Whether parameter `key` is a lookup table that may be stored as row chunks: the word embeddings
 * (`*.word_embeddings.weight`, HF's name in every family here), the only parameter of these models that
 * outgrows a binding, and the only one read through {@link TokenClassifierBase.table} by the families.
 */
export function isChunkable(key: string): boolean {
  return /(^|\.)word_embeddings\.weight$/.test(key);
}

/**
 * Rows per chunk for parameter `key` of `shape`, or null when it is stored whole: it fits one binding,
 * is not a chunkable table ({@link isChunkable}), or a single row is already too large (then the size
 * check reports it).
 */
export function chunkRowsFor(key: string, shape: readonly number[]): number | null {
  if (shape.length !== 2 || !isChunkable(key)) return null;
  const [rows, cols] = shape;
  if (_maxRows !== null) return rows > _maxRows ? _maxRows : null;
  const limit = bindingLimitBytes();
  if (rows * cols * 4 <= limit) return null;
  const per = Math.floor(limit / (cols * 4));
  return per >= 1 ? per : null;
}

/** The `params` name of rows start..end−1 of the parameter `key`. */
export function chunkName(key: string, start: number, end: number): string {
  return `${key}[${start}:${end}]`;
}

const _CHUNK = /^(.*)\[(\d+):(\d+)\]$/;

/** The checkpoint key of a `params` name (a chunk's key, or the name itself). */
export function parameterKey(name: string): string {
  return _CHUNK.exec(name)?.[1] ?? name;
}

/** A parameter as its checkpoint key sees it: the full shape and its tensors (one, or the row chunks in order). */
export interface CheckpointParameter {
  /** The HF checkpoint key. */
  key: string;
  /** The full shape (chunks: their rows summed). */
  shape: number[];
  /** The tensor, or the row chunks top to bottom. */
  parts: Tensor[];
  /** Whether the parameter is stored as row chunks. */
  chunked: boolean;
}

/**
 * `params` grouped by checkpoint key, in order (chunks of one key must be adjacent and cover the rows in
 * order; anything else is an error).
 */
export function checkpointParameters(params: ReadonlyMap<string, Tensor>): CheckpointParameter[] {
  const out: CheckpointParameter[] = [];
  for (const [name, t] of params) {
    const m = _CHUNK.exec(name);
    if (!m) {
      out.push({ key: name, shape: [...t.shape], parts: [t], chunked: false });
      continue;
    }
    const [key, start, end] = [m[1], Number(m[2]), Number(m[3])];
    let last = out.at(-1);
    if (!last || last.key !== key || !last.chunked) {
      if (start !== 0 || out.some((p) => p.key === key)) {
        throw new Error(`parameter chunk '${name}' does not follow the rows before it`);
      }
      last = { key, shape: [0, t.shape[1]], parts: [], chunked: true };
      out.push(last);
    }
    if (
      t.shape.length !== 2 || start !== last.shape[0] || end - start !== t.shape[0] ||
      t.shape[1] !== last.shape[1]
    ) {
      throw new Error(`parameter chunk '${name}' has shape [${t.shape}] or rows out of order`);
    }
    last.shape[0] = end;
    last.parts.push(t);
  }
  return out;
}

/**
 * The `params` entries for host weights `data` of parameter `key` with `shape`: one tensor, or row chunks
 * ({@link chunkRowsFor}) uploaded from views of `data` (no copy on the host).
 */
export function uploadParameter(
  key: string,
  shape: readonly number[],
  data: Float32Array,
): [string, Tensor][] {
  const per = chunkRowsFor(key, shape);
  if (per === null) return [[key, Tensor.from(data, [...shape], "f32", key).keep()]];
  const [rows, cols] = shape;
  const out: [string, Tensor][] = [];
  for (let r = 0; r < rows; r += per) {
    const end = Math.min(rows, r + per), name = chunkName(key, r, end);
    out.push([name, Tensor.from(data.subarray(r * cols, end * cols), [end - r, cols], "f32", name).keep()]);
  }
  return out;
}

/** Writes host `data` (the full parameter) into its tensors (checkpoint restore); sizes must match. */
export function writeParameter(p: CheckpointParameter, data: Float32Array): void {
  let o = 0;
  for (const t of p.parts) {
    gpu().write(t.buffer, data.subarray(o, o + t.size));
    o += t.size;
  }
}
