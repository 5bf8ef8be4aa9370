/**
 * safetensors reading and writing (the Hugging Face weight format).
 *
 * Layout: 8-byte little-endian header length `n`, `n` bytes of UTF-8 JSON (`{"__metadata__": {...},
 * "<name>": {"dtype", "shape", "data_offsets": [begin, end]}, ...}`), then the data region; offsets are
 * relative to the start of the data region. Files are untrusted input: {@link parseSafetensors} validates
 * every field before handing out views, and never allocates in proportion to a size the file claims.
 * @module
 */
import { dirname, fileURLToPath, isAbsolute, join, normalize } from "./path.ts";
import { type FileStore, isHttpUrl, readFileBytes, readFileText } from "./storage.ts";

/** Element types this reader understands (safetensors names). */
export type SafeDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** One tensor of a parsed file. */
export interface SafeTensor {
  /** Element type. */
  dtype: SafeDType;
  /** Dimensions (row-major, C order); `[]` is a scalar. */
  shape: number[];
  /** The tensor's little-endian bytes: a view into the file bytes (no copy, possibly unaligned). */
  data: Uint8Array;
}

/** A parsed safetensors file. */
export interface SafetensorsFile {
  /** The `__metadata__` string map, or null when the file has none. */
  metadata: Record<string, string> | null;
  /** Tensors by name, in the order of their data offsets. */
  tensors: Map<string, SafeTensor>;
}

/** A malformed or unsupported safetensors file, or a tensor that cannot be converted as asked. */
export class SafetensorsError extends Error {
  /** @param message what is wrong, naming the file and the tensor */
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsError";
  }
}

/** Bytes per element of each supported dtype. */
export const DTYPE_SIZE: Readonly<Record<SafeDType, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

/** The safetensors library's own limit on the header size. */
const _MAX_HEADER = 100_000_000;

const _LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function _describe(v: unknown): string {
  if (v === undefined) return "nothing";
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    s = undefined;
  }
  s ??= String(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

function _isNonNegInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Number of elements of `shape` (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

interface _Entry {
  name: string;
  dtype: SafeDType;
  shape: number[];
  begin: number;
  end: number;
}

function _parseEntry(source: string, name: string, info: unknown, dataLen: number): _Entry {
  const where = `${source}: tensor "${name}"`;
  if (typeof info !== "object" || info === null || Array.isArray(info)) {
    throw new SafetensorsError(
      `${where}: expected an object {dtype, shape, data_offsets}, got ${_describe(info)}`,
    );
  }
  const rec = info as Record<string, unknown>;
  const dtype = rec.dtype;
  if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_SIZE, dtype)) {
    const known = Object.keys(DTYPE_SIZE).join(", ");
    throw new SafetensorsError(`${where}: unsupported dtype ${_describe(dtype)}; expected one of ${known}`);
  }
  const shape = rec.shape;
  if (!Array.isArray(shape)) {
    throw new SafetensorsError(
      `${where}: expected "shape" to be an array of integers, got ${_describe(shape)}`,
    );
  }
  for (const d of shape) {
    if (!_isNonNegInt(d)) {
      throw new SafetensorsError(
        `${where}: expected shape dimensions to be non-negative integers, got ${_describe(shape)}`,
      );
    }
  }
  const offs = rec.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !_isNonNegInt(offs[0]) || !_isNonNegInt(offs[1])) {
    const got = _describe(offs);
    throw new SafetensorsError(
      `${where}: expected "data_offsets" to be [begin, end] with non-negative integers, got ${got}`,
    );
  }
  const [begin, end] = offs as [number, number];
  if (begin > end) throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] has begin > end`);
  if (end > dataLen) {
    throw new SafetensorsError(
      `${where}: data_offsets [${begin}, ${end}] reach beyond the data region (${dataLen} bytes)`,
    );
  }
  // Element count in BigInt: dimensions are safe integers, but their product may not be.
  let count = 1n;
  for (const d of shape) count *= BigInt(d);
  const bytes = count * BigInt(DTYPE_SIZE[dtype as SafeDType]);
  if (bytes !== BigInt(end - begin)) {
    const dims = _describe(shape);
    throw new SafetensorsError(
      `${where}: shape ${dims} of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] ` +
        `hold ${end - begin}`,
    );
  }
  return { name, dtype: dtype as SafeDType, shape: shape.slice() as number[], begin, end };
}

function _parseMetadata(source: string, meta: unknown): Record<string, string> | null {
  if (meta === null) return null;
  if (typeof meta !== "object" || Array.isArray(meta)) {
    throw new SafetensorsError(
      `${source}: expected "__metadata__" to be an object of strings, got ${_describe(meta)}`,
    );
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta as Record<string, unknown>)) {
    if (typeof v !== "string") {
      throw new SafetensorsError(
        `${source}: expected "__metadata__" value of "${k}" to be a string, got ${_describe(v)}`,
      );
    }
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * Parses a whole safetensors file held in memory. `source` (a path or label) is named in every error.
 * Tensor data are views into `bytes`. Throws {@link SafetensorsError} on any malformed input: header
 * length beyond the file or above 100 MB, invalid UTF-8 or JSON, a header that is not an object, an entry
 * without a valid dtype/shape/data_offsets, a shape whose byte count differs from its offsets, offsets out
 * of range, overlapping, or not covering the data region exactly, or non-string `__metadata__` values.
 */
export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  if (bytes.length < 8) {
    throw new SafetensorsError(
      `${source}: file is ${bytes.length} bytes, shorter than the 8-byte header length`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(_MAX_HEADER)) {
    throw new SafetensorsError(
      `${source}: header length ${n} exceeds the 100 MB limit (corrupt or not safetensors)`,
    );
  }
  if (n > BigInt(bytes.length - 8)) {
    const room = bytes.length - 8;
    throw new SafetensorsError(
      `${source}: header length ${n} exceeds the file size minus 8 (${room}); file truncated or corrupt`,
    );
  }
  const headerLen = Number(n);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw new SafetensorsError(`${source}: header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new SafetensorsError(`${source}: header must be a JSON object, got ${_describe(header)}`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  let metadata: Record<string, string> | null = null;
  const entries: _Entry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") metadata = _parseMetadata(source, info);
    else entries.push(_parseEntry(source, name, info, dataLen));
  }
  // safetensors' rule: sorted by offsets, the tensors tile the data region exactly.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = "";
  for (const e of entries) {
    if (e.begin < pos) {
      throw new SafetensorsError(
        `${source}: tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] overlap tensor "${prev}" ` +
          `(ends at ${pos})`,
      );
    }
    if (e.begin > pos) {
      const before = prev ? `tensor "${prev}" ends` : "data region starts";
      throw new SafetensorsError(
        `${source}: tensor "${e.name}" starts at ${e.begin} but the ${before} at ${pos}; ` +
          "expected the data offsets to cover the data region without gaps",
      );
    }
    pos = e.end;
    prev = e.name;
  }
  if (pos !== dataLen) {
    throw new SafetensorsError(
      `${source}: the tensors cover ${pos} bytes of data but the data region holds ${dataLen}` +
        (prev ? ` (last tensor "${prev}")` : "") + "; expected them to cover it exactly",
    );
  }
  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: bytes.subarray(dataStart + e.begin, dataStart + e.end),
    });
  }
  return { metadata, tensors };
}

/** Reads and parses a safetensors file (see {@link parseSafetensors}). */
export async function readSafetensors(path: string | URL, store?: FileStore): Promise<SafetensorsFile> {
  const bytes = await readFileBytes(path, store);
  return parseSafetensors(bytes, path instanceof URL ? path.href : path);
}

let _halfTable: Float32Array | null = null;

/** All 65536 f16 bit patterns as f32 (exact: every f16 value is representable in f32). */
function _halfToFloat(): Float32Array {
  if (_halfTable) return _halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 31) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return (_halfTable = t);
}

/** A fresh, aligned copy of `data` as an ArrayBuffer. */
function _alignedCopy(data: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(data.length);
  copy.set(data);
  return copy.buffer;
}

function _count(t: SafeTensor, name: string): number {
  const size = Object.hasOwn(DTYPE_SIZE, t.dtype) ? DTYPE_SIZE[t.dtype] : 0;
  if (!size || t.data.length % size !== 0) {
    throw new SafetensorsError(
      `${name}: ${t.data.length} bytes are not a whole number of ${t.dtype} elements`,
    );
  }
  return t.data.length / size;
}

/**
 * The tensor as a new Float32Array: F32 copied (safe for unaligned data), F16 and BF16 widened exactly
 * (NaN and infinities kept), F64 rounded to nearest f32. Other dtypes are a {@link SafetensorsError}.
 */
export function toFloat32(t: SafeTensor, name = "tensor"): Float32Array {
  const count = _count(t, name);
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  switch (t.dtype) {
    case "F32": {
      if (_LITTLE_ENDIAN) return new Float32Array(_alignedCopy(t.data));
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case "F64": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    case "F16": {
      const table = _halfToFloat();
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[dv.getUint16(2 * i, true)];
      return out;
    }
    case "BF16": {
      // bf16 is the top half of an f32: shifting the bits back is exact, NaN payloads included.
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = dv.getUint16(2 * i, true) << 16;
      return new Float32Array(bits.buffer);
    }
    default:
      throw new SafetensorsError(
        `${name}: cannot read dtype ${t.dtype} as float32; expected F32, F16, BF16 or F64`,
      );
  }
}

/**
 * The tensor as a new Int32Array: I32 copied, I16/I8/U8 widened, BOOL as 0/1, I64 narrowed (a value
 * outside the int32 range is a {@link SafetensorsError} naming the tensor). Float dtypes are an error.
 */
export function toInt32(t: SafeTensor, name = "tensor"): Int32Array {
  const count = _count(t, name);
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Int32Array(count);
  switch (t.dtype) {
    case "I32":
      if (_LITTLE_ENDIAN) return new Int32Array(_alignedCopy(t.data));
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(4 * i, true);
      return out;
    case "I64":
      for (let i = 0; i < count; i++) {
        const lo = dv.getUint32(8 * i, true);
        const hi = dv.getInt32(8 * i + 4, true);
        // In int32 range exactly when the high word is the sign extension of the low word.
        if (hi !== ((lo | 0) >> 31)) {
          throw new SafetensorsError(
            `${name}: I64 value ${dv.getBigInt64(8 * i, true)} at index ${i} is outside the int32 range`,
          );
        }
        out[i] = lo | 0;
      }
      return out;
    case "I16":
      for (let i = 0; i < count; i++) out[i] = dv.getInt16(2 * i, true);
      return out;
    case "I8":
      for (let i = 0; i < count; i++) out[i] = dv.getInt8(i);
      return out;
    case "U8":
      for (let i = 0; i < count; i++) out[i] = t.data[i];
      return out;
    case "BOOL":
      for (let i = 0; i < count; i++) out[i] = t.data[i] ? 1 : 0;
      return out;
    default:
      throw new SafetensorsError(
        `${name}: cannot read dtype ${t.dtype} as int32; expected I64, I32, I16, I8, U8 or BOOL`,
      );
  }
}

/** A tensor to write with {@link serializeSafetensors}. F16/BF16 data are the raw 16-bit patterns. */
export interface TensorToWrite {
  /** Tensor name (any string except `__metadata__`). */
  name: string;
  /** Element type written to the file. */
  dtype: "F32" | "I32" | "I64" | "F16" | "BF16";
  /** Dimensions. */
  shape: number[];
  /**
   * F32: Float32Array; I32: Int32Array; I64: BigInt64Array or Int32Array (widened); F16/BF16: Uint16Array.
   * F32 data may also be a list of consecutive pieces (e.g. a parameter's row chunks read back one by
   * one), written one after the other without first joining them into one array.
   */
  data: Float32Array | Int32Array | BigInt64Array | Uint16Array | readonly Float32Array[];
}

/**
 * Order of the Rust `Dtype` enum in huggingface/safetensors (`safetensors/src/tensor.rs`), which is
 * increasing alignment: BOOL < U8 < I8 < (F8_*) < I16 < U16 < F16 < BF16 < I32 < U32 < F32 < F64 < I64 < U64.
 * The library's `prepare()` sorts tensors by this rank descending, then by name, and lays out data and
 * header entries in that order.
 */
const _DTYPE_RANK: Record<SafeDType, number> = {
  BOOL: 0,
  U8: 1,
  I8: 2,
  I16: 5,
  F16: 7,
  BF16: 8,
  I32: 9,
  F32: 11,
  F64: 12,
  I64: 13,
};

const _ARRAY_FOR: Record<TensorToWrite["dtype"], string[]> = {
  F32: ["Float32Array"],
  I32: ["Int32Array"],
  I64: ["BigInt64Array", "Int32Array"],
  F16: ["Uint16Array"],
  BF16: ["Uint16Array"],
};

function _tensorBytes(t: TensorToWrite): Uint8Array {
  if (t.dtype === "I64" && t.data instanceof Int32Array) {
    const wide = new BigInt64Array(t.data.length);
    for (let i = 0; i < wide.length; i++) wide[i] = BigInt(t.data[i]);
    return _tensorBytes({ ...t, data: wide });
  }
  const data = t.data as Exclude<TensorToWrite["data"], readonly Float32Array[]>; // pieces: one at a time
  const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (_LITTLE_ENDIAN) return src;
  const size = DTYPE_SIZE[t.dtype];
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = src[i + size - 1 - j];
  }
  return out;
}

/**
 * Serializes tensors the way the safetensors Python library does: tensors ordered by dtype alignment
 * (descending, see `_DTYPE_RANK`) then by name, contiguous `data_offsets`, compact header JSON with
 * `__metadata__` first, padded with spaces to a multiple of 8 bytes.
 */
export function serializeSafetensors(
  tensors: TensorToWrite[],
  metadata?: Record<string, string>,
): Uint8Array {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === "__metadata__") throw new SafetensorsError(`cannot write a tensor named "__metadata__"`);
    if (seen.has(t.name)) throw new SafetensorsError(`tensor "${t.name}" given twice`);
    seen.add(t.name);
    if (!Object.hasOwn(_ARRAY_FOR, t.dtype)) {
      throw new SafetensorsError(`tensor "${t.name}": cannot write dtype ${_describe(t.dtype)}`);
    }
    if (Array.isArray(t.data)) {
      const n = t.data.reduce((s: number, d: unknown) => s + (d instanceof Float32Array ? d.length : NaN), 0);
      if (t.dtype !== "F32" || !(n === numel(t.shape) && t.shape.every(_isNonNegInt))) {
        throw new SafetensorsError(
          `tensor "${t.name}": pieces must be F32 Float32Arrays totalling shape ${_describe(t.shape)}`,
        );
      }
      continue;
    }
    const data = t.data as Exclude<TensorToWrite["data"], readonly Float32Array[]>;
    if (!_ARRAY_FOR[t.dtype].includes(data.constructor.name)) {
      const want = _ARRAY_FOR[t.dtype].join(" or ");
      throw new SafetensorsError(
        `tensor "${t.name}": ${t.dtype} data must be ${want}, got ${data.constructor.name}`,
      );
    }
    if (!t.shape.every(_isNonNegInt) || numel(t.shape) !== data.length) {
      throw new SafetensorsError(
        `tensor "${t.name}": shape ${_describe(t.shape)} does not match ${data.length} elements`,
      );
    }
  }
  const ordered = tensors.slice().sort((a, b) =>
    _DTYPE_RANK[b.dtype] - _DTYPE_RANK[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
  // The header is assembled by hand: a JS object would move integer-like names first and treat
  // "__proto__" specially.
  const parts: string[] = [];
  if (metadata) {
    const meta: string[] = [];
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new SafetensorsError(`metadata "${k}" must be a string`);
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${meta.join(",")}}`);
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of ordered) {
    const pieces = Array.isArray(t.data)
      ? t.data.map((d) => _tensorBytes({ ...t, data: d }))
      : [_tensorBytes(t)];
    const length = pieces.reduce((s, b) => s + b.length, 0);
    const info = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + length] };
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify(info)}`);
    chunks.push(...pieces);
    offset += length;
  }
  let json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/** A parsed `model.safetensors.index.json` (sharded checkpoint). */
export interface ShardedIndex {
  /** Folder holding the index and its shards. */
  dir: string;
  /** The index's `metadata` object (e.g. `total_size`), or null. */
  metadata: Record<string, unknown> | null;
  /** Paths of the distinct shard files (`dir` joined with each file name), sorted. */
  shards: string[];
  /** Tensor name → path of the shard holding it. */
  weightMap: Map<string, string>;
}

/**
 * Reads a sharded-checkpoint index (`model.safetensors.index.json`: `{"metadata": {...}, "weight_map":
 * {"<tensor>": "<shard file>"}}`). Checks that every shard named is a plain relative file name and exists
 * beside the index (unless `checkFiles` is false: shards still to be downloaded); the error for a missing
 * one names the file and a tensor mapped to it.
 */
export async function loadShardedIndex(
  indexPath: string | URL,
  opts: { checkFiles?: boolean; store?: FileStore } = {},
): Promise<ShardedIndex> {
  const path = indexPath instanceof URL
    ? (isHttpUrl(indexPath) ? indexPath.href : fileURLToPath(indexPath))
    : indexPath;
  const dir = dirname(path);
  // An http(s) index: shard URLs are the folder URL plus the file name (join would turn "http://" into "http:/").
  const inDir = isHttpUrl(path) ? (f: string) => `${dir}/${normalize(f)}` : (f: string) => join(dir, f);
  let json: unknown;
  try {
    json = JSON.parse(await readFileText(path, opts.store));
  } catch (e) {
    if ((e as Error)?.name === "NotFound") throw new SafetensorsError(`${path}: index file not found`);
    throw new SafetensorsError(`${path}: not a valid JSON index (${(e as Error).message})`);
  }
  const rec = typeof json === "object" && json !== null && !Array.isArray(json)
    ? json as Record<string, unknown>
    : null;
  const wm = rec?.weight_map;
  if (typeof wm !== "object" || wm === null || Array.isArray(wm)) {
    throw new SafetensorsError(
      `${path}: expected an object with a "weight_map" object mapping tensor names to files`,
    );
  }
  const meta = rec!.metadata;
  const metadata = typeof meta === "object" && meta !== null && !Array.isArray(meta)
    ? meta as Record<string, unknown>
    : null;
  const files = new Map<string, string>(); // file name -> first tensor naming it
  const weightMap = new Map<string, string>();
  for (const [key, file] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof file !== "string" || file === "" || isAbsolute(file) || file.split(/[\\/]/).includes("..")) {
      throw new SafetensorsError(
        `${path}: tensor "${key}" maps to ${_describe(file)}; expected a shard file name`,
      );
    }
    if (!files.has(file)) files.set(file, key);
    weightMap.set(key, inDir(file));
  }
  for (const [file, key] of opts.checkFiles === false || isHttpUrl(path) ? [] : files) {
    let ok = false;
    try {
      ok = (await Deno.stat(join(dir, file))).isFile;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (!ok) {
      throw new SafetensorsError(
        `${path}: tensor "${key}" maps to shard "${file}", which is missing from ${dir}`,
      );
    }
  }
  const shards = [...files.keys()].sort().map(inDir);
  return { dir, metadata, shards, weightMap };
}
