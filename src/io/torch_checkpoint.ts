/**
 * `pytorch_model.bin` without Python: PyTorch's zip checkpoint format (`torch.save` ≥ 1.6: a ZIP archive
 * with `<prefix>/data.pkl`, raw storages `<prefix>/data/<key>`, optional `<prefix>/byteorder` and
 * `<prefix>/version`) and the legacy format before it (pickles of the magic number 0x1950a86a20f9469cfc6c,
 * protocol version 1001 and sys_info, then the state-dict pickle with persistent ids, the pickled list of
 * storage keys, and each storage as an int64 element count followed by its bytes). The pickles go through
 * the restricted reader of `torch_pickle.ts`; tensors are rebuilt from their storages with offsets, sizes
 * and strides (views and transposed layouts materialised row-major; shared storages read once) and handed
 * out like safetensors tensors.
 * @module
 */
import type { SafeTensor } from "./safetensors.ts";
import { isZip, openZip, ZipError } from "./zip.ts";
import { type FileStore, readFileBytes } from "./storage.ts";
import {
  PyDict,
  pyTypeName,
  type StorageRef,
  type TensorRef,
  TORCH_DTYPE_SIZE,
  TorchPickleError,
  unpickle,
} from "./torch_pickle.ts";

export { TorchPickleError } from "./torch_pickle.ts";

/** How a tensor sat in its storage (for reports and tests). */
export interface TorchLayout {
  /** Storage key. */
  storage: string;
  /** Element offset. */
  offset: number;
  /** Element strides. */
  stride: number[];
  /** Elements of the storage. */
  storageNumel: number;
}

/** A read checkpoint: contiguous tensors (safetensors-like) and where each came from. */
export interface TorchCheckpoint {
  /** Which file format it was. */
  format: "zip" | "legacy";
  /** Tensors by state-dict key, in the pickle's order, as contiguous little-endian bytes. */
  tensors: Map<string, SafeTensor>;
  /** Storage layout of each tensor. */
  layouts: Map<string, TorchLayout>;
}

/** Largest view allowed to hold more elements than its storage (broadcast buffers are tiny). */
const _MAX_EXPANDED_BYTES = 1 << 26;

const _MAGIC = 0x1950a86a20f9469cfc6cn;

/** The state dict's tensors; anything else at the top level or as a value is an error. */
function _stateDict(value: unknown, source: string): Map<string, TensorRef> {
  if (!(value instanceof PyDict)) {
    throw new TorchPickleError(
      `${source}: expected a state dict (OrderedDict of tensors), got ${pyTypeName(value as never)}`,
    );
  }
  const out = new Map<string, TensorRef>();
  for (const [k, v] of value.map) {
    if (typeof k !== "string") {
      throw new TorchPickleError(`${source}: state-dict key ${String(k)} is not a string`);
    }
    if (!v || typeof v !== "object" || (v as TensorRef).kind !== "tensor") {
      throw new TorchPickleError(
        `${source}: state-dict entry "${k}" is a ${pyTypeName(v)}, not a tensor (a training checkpoint ` +
          `with nested dicts rather than torch.save(model.state_dict())?)`,
      );
    }
    out.set(k, v as TensorRef);
  }
  return out;
}

/** Aligned typed view of `bytes` with `size`-byte elements (copies when misaligned). */
function _elements(bytes: Uint8Array, size: number): Uint8Array | Uint16Array | Uint32Array | BigUint64Array {
  if (size === 1) return bytes;
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const n = aligned.byteLength / size;
  if (size === 2) return new Uint16Array(aligned.buffer, aligned.byteOffset, n);
  if (size === 4) return new Uint32Array(aligned.buffer, aligned.byteOffset, n);
  return new BigUint64Array(aligned.buffer, aligned.byteOffset, n);
}

function _byteswap(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j];
  }
  return out;
}

/**
 * The contiguous bytes of a strided view. `storage` holds the storage's elements (little-endian);
 * every element the view reaches is checked to lie inside it.
 */
export function materialize(
  storage: Uint8Array,
  elemSize: number,
  offset: number,
  shape: readonly number[],
  stride: readonly number[],
  where: string,
): Uint8Array {
  let count = 1;
  let last = offset;
  for (let d = 0; d < shape.length; d++) {
    count *= shape[d];
    last += (shape[d] - 1) * stride[d];
  }
  const storageNumel = storage.length / elemSize;
  if (count === 0) return new Uint8Array(0);
  if (last >= storageNumel || !Number.isSafeInteger(count)) {
    throw new TorchPickleError(
      `${where}: view (offset ${offset}, size [${shape}], stride [${stride}]) reaches element ${last} of a ` +
        `storage with ${storageNumel} elements`,
    );
  }
  if (count > storageNumel && count * elemSize > _MAX_EXPANDED_BYTES) {
    throw new TorchPickleError(
      `${where}: view of ${count} elements expands a storage of ${storageNumel} elements; refusing to ` +
        `allocate ${count * elemSize} bytes`,
    );
  }
  // Row-major contiguous: a plain slice.
  let expect = 1;
  let contiguous = true;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expect) contiguous = false;
    expect *= shape[d];
  }
  if (contiguous) return storage.slice(offset * elemSize, (offset + count) * elemSize);
  const src = _elements(storage, elemSize);
  const out = new Uint8Array(count * elemSize);
  const dst = _elements(out, elemSize);
  const nd = shape.length;
  const inner = shape[nd - 1];
  const innerStride = stride[nd - 1];
  const index = new Array(Math.max(nd - 1, 0)).fill(0);
  let base = offset;
  for (let o = 0; o < count; o += inner) {
    // deno-lint-ignore no-explicit-any
    const s = src as any, t = dst as any;
    for (let i = 0, q = base; i < inner; i++, q += innerStride) t[o + i] = s[q];
    for (let d = nd - 2; d >= 0; d--) {
      index[d]++;
      base += stride[d];
      if (index[d] < shape[d]) break;
      base -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

/** Rebuilds every tensor from storage bytes (`read(key)` gives a storage's little-endian bytes). */
async function _rebuild(
  refs: Map<string, TensorRef>,
  read: (s: StorageRef) => Promise<Uint8Array>,
  source: string,
  bigEndian: boolean,
): Promise<{ tensors: Map<string, SafeTensor>; layouts: Map<string, TorchLayout> }> {
  const cache = new Map<StorageRef, Uint8Array>();
  const tensors = new Map<string, SafeTensor>();
  const layouts = new Map<string, TorchLayout>();
  for (const [key, t] of refs) {
    const size = TORCH_DTYPE_SIZE[t.storage.dtype];
    let bytes = cache.get(t.storage);
    if (!bytes) {
      bytes = await read(t.storage);
      if (bigEndian) bytes = _byteswap(bytes, size);
      cache.set(t.storage, bytes);
    }
    const data = materialize(bytes, size, t.offset, t.shape, t.stride, `${source}: tensor "${key}"`);
    tensors.set(key, { dtype: t.storage.dtype, shape: t.shape.slice(), data });
    layouts.set(key, {
      storage: t.storage.key,
      offset: t.offset + t.storage.viewOffset,
      stride: t.stride.slice(),
      storageNumel: t.storage.numel,
    });
  }
  return { tensors, layouts };
}

async function _readZip(bytes: Uint8Array, source: string): Promise<TorchCheckpoint> {
  let zip;
  try {
    zip = openZip(bytes, source);
  } catch (e) {
    if (e instanceof ZipError) throw new TorchPickleError(e.message);
    throw e;
  }
  const pkl = [...zip.entries.keys()].filter((n) => n === "data.pkl" || n.endsWith("/data.pkl"));
  if (pkl.length !== 1) {
    throw new TorchPickleError(
      `${source}: a torch zip checkpoint holds exactly one <name>/data.pkl, found ${pkl.length} ` +
        `(entries: ${[...zip.entries.keys()].slice(0, 6).join(", ")})`,
    );
  }
  const prefix = pkl[0].slice(0, pkl[0].length - "data.pkl".length);
  const get = async (name: string) => {
    try {
      return await zip.read(name);
    } catch (e) {
      if (e instanceof ZipError) throw new TorchPickleError(e.message);
      throw e;
    }
  };
  let bigEndian = false;
  if (zip.entries.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(await get(`${prefix}byteorder`)).trim();
    if (order !== "little" && order !== "big") {
      throw new TorchPickleError(
        `${source}: ${prefix}byteorder says ${JSON.stringify(order)}, not little/big`,
      );
    }
    bigEndian = order === "big";
  }
  const value = unpickle(await get(pkl[0]), `${source}: ${pkl[0]}`).value;
  const refs = _stateDict(value, source);
  const read = async (s: StorageRef) => {
    const name = `${prefix}data/${s.key}`;
    if (!zip.entries.has(name)) {
      throw new TorchPickleError(`${source}: storage "${s.key}" has no record ${name}`);
    }
    const data = await get(name);
    const want = s.numel * TORCH_DTYPE_SIZE[s.dtype];
    if (data.length !== want) {
      throw new TorchPickleError(
        `${source}: record ${name} holds ${data.length} bytes, the pickle says ${s.numel} ${s.dtype} ` +
          `elements (${want} bytes)`,
      );
    }
    return data;
  };
  return { format: "zip", ...await _rebuild(refs, read, source, bigEndian) };
}

function _readLegacy(bytes: Uint8Array, source: string): Promise<TorchCheckpoint> {
  const magic = (() => {
    try {
      return unpickle(bytes, `${source} (magic number)`, 0);
    } catch (e) {
      if (!(e instanceof TorchPickleError)) throw e;
      throw new TorchPickleError(
        `${source}: not a PyTorch checkpoint (neither a zip archive nor the legacy format): ${e.message}`,
      );
    }
  })();
  if (magic.value !== _MAGIC) {
    throw new TorchPickleError(
      `${source}: not a PyTorch checkpoint: neither a zip archive nor the legacy format's magic number ` +
        `(0x1950a86a20f9469cfc6c)`,
    );
  }
  const proto = unpickle(bytes, `${source} (protocol version)`, magic.end);
  if (proto.value !== 1001) {
    throw new TorchPickleError(`${source}: legacy protocol version ${String(proto.value)}, expected 1001`);
  }
  const sys = unpickle(bytes, `${source} (sys_info)`, proto.end);
  let bigEndian = false;
  if (sys.value instanceof PyDict) {
    const le = sys.value.map.get("little_endian");
    if (le === false) bigEndian = true;
  } else throw new TorchPickleError(`${source}: legacy sys_info must be a dict`);
  const storages = new Map<string, StorageRef>();
  const main = unpickle(bytes, source, sys.end, storages);
  const refs = _stateDict(main.value, source);
  const keysV = unpickle(bytes, `${source} (storage keys)`, main.end);
  if (!Array.isArray(keysV.value) || !keysV.value.every((k) => typeof k === "string")) {
    throw new TorchPickleError(`${source}: legacy storage-key list must be a list of strings`);
  }
  const roots = new Map<string, StorageRef>();
  for (const s of storages.values()) if (!roots.has(s.key)) roots.set(s.key, s);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Map<string, Uint8Array>();
  let p = keysV.end;
  for (const key of keysV.value as string[]) {
    const s = roots.get(key);
    if (!s) throw new TorchPickleError(`${source}: storage key "${key}" is listed but no tensor uses it`);
    if (p + 8 > bytes.length) {
      throw new TorchPickleError(`${source}: storage "${key}" is cut off (truncated)`);
    }
    const n = dv.getBigInt64(p, !bigEndian);
    const size = TORCH_DTYPE_SIZE[s.dtype];
    if (n < 0n || n * BigInt(size) > BigInt(bytes.length - p - 8)) {
      throw new TorchPickleError(
        `${source}: storage "${key}" claims ${n} elements, more than the file holds (truncated?)`,
      );
    }
    p += 8;
    data.set(key, bytes.subarray(p, p += Number(n) * size));
  }
  if (p !== bytes.length) {
    throw new TorchPickleError(`${source}: ${bytes.length - p} unexpected bytes after the last storage`);
  }
  const read = (s: StorageRef) => {
    const root = data.get(s.key);
    if (!root) {
      return Promise.reject(new TorchPickleError(`${source}: storage "${s.key}" is not in the file`));
    }
    const size = TORCH_DTYPE_SIZE[s.dtype];
    const end = (s.viewOffset + s.numel) * size;
    if (end > root.length) {
      return Promise.reject(
        new TorchPickleError(
          `${source}: storage "${s.key}" has ${root.length / size} elements, a view needs ${
            s.viewOffset + s.numel
          }`,
        ),
      );
    }
    return Promise.resolve(root.subarray(s.viewOffset * size, end));
  };
  return _rebuild(refs, read, source, bigEndian).then((r) => ({ format: "legacy" as const, ...r }));
}

/**
 * Parses a `torch.save(state_dict)` file held in memory (zip or legacy format). `source` names the file in
 * every error ({@link TorchPickleError}). Tensors come out contiguous, little-endian, with safetensors
 * dtype names (F32, F16, BF16, and I64/I32 for integer buffers such as `position_ids`).
 */
export function parseTorchCheckpoint(bytes: Uint8Array, source: string): Promise<TorchCheckpoint> {
  if (isZip(bytes)) return _readZip(bytes, source);
  if (bytes.length >= 2 && bytes[0] === 0x80) return _readLegacy(bytes, source);
  return Promise.reject(
    new TorchPickleError(
      `${source}: not a PyTorch checkpoint (starts with neither a zip header nor a pickle PROTO opcode)`,
    ),
  );
}

/** Reads a `pytorch_model.bin` file (see {@link parseTorchCheckpoint}), from `store` when given. */
export async function readTorchCheckpoint(path: string, store?: FileStore): Promise<TorchCheckpoint> {
  return parseTorchCheckpoint(await readFileBytes(path, store), path);
}
