/**
 * A restricted pickle reader for PyTorch checkpoints. It is a data parser, not a Python VM: it knows the
 * opcodes that `torch.save(state_dict)` emits (protocols 2–5: constants, strings, tuples, lists, dicts,
 * memo, persistent ids) and exactly these globals:
 * - `collections.OrderedDict` (called with no arguments or a list of pairs; BUILD sets its `_metadata`),
 * - `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter` (tensors from storages),
 * - the typed storage classes `torch.{Float,Half,BFloat16,Long,Int}Storage`, only inside persistent ids
 *   `('storage', <class>, key, location, numel[, view])`.
 * Any other global (`os.system`, `builtins.eval`, …), any other opcode (INST, OBJ, NEWOBJ, EXT*, text-mode
 * opcodes …) and any call of something that is not one of those callables is refused with a one-line
 * {@link TorchPickleError} naming the file, the byte offset and the global or opcode. Nothing is executed:
 * "calls" build plain records ({@link TensorRef}, {@link PyDict}).
 * @module
 */

/** A checkpoint pickle that is malformed or outside the subset `torch.save(state_dict)` writes. */
export class TorchPickleError extends Error {
  /** @param message what is wrong, naming the file */
  constructor(message: string) {
    super(message);
    this.name = "TorchPickleError";
  }
}

/** Element types of the accepted storages (safetensors names). */
export type TorchDType = "F32" | "F16" | "BF16" | "I64" | "I32";

/** Storage classes accepted in persistent ids, with their element type. */
export const STORAGE_TYPES: Readonly<Record<string, TorchDType>> = Object.freeze({
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  LongStorage: "I64",
  IntStorage: "I32",
});

/** Bytes per element. */
export const TORCH_DTYPE_SIZE: Readonly<Record<TorchDType, number>> = Object.freeze({
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
});

/** A storage named by a persistent id (its bytes live elsewhere in the checkpoint). */
export interface StorageRef {
  /** Storage key (`"0"`, `"1"`, … in zip files; a number string in legacy files). */
  key: string;
  /** Element type of the storage class. */
  dtype: TorchDType;
  /** Elements the persistent id announces. */
  numel: number;
  /** Device it was saved from (`cpu`, `cuda:0`); everything is loaded on the host. */
  location: string;
  /** Legacy storage views: the element offset into the root storage `key` (0 otherwise). */
  viewOffset: number;
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. */
export interface TensorRef {
  /** Marks the record. */
  readonly kind: "tensor";
  /** The storage it views (shared between tensors that share storage). */
  storage: StorageRef;
  /** Element offset into the storage. */
  offset: number;
  /** Dimensions. */
  shape: number[];
  /** Element strides, one per dimension. */
  stride: number[];
}

/** A Python dict or OrderedDict. Keys are strings, numbers, booleans or None. */
export class PyDict {
  /** Entries in insertion order. */
  readonly map: Map<string | number | bigint | boolean | null, PyValue> = new Map();
  /** Attributes set by BUILD (OrderedDict's `_metadata`). */
  readonly attrs: Map<string, PyValue> = new Map();
  /** @param ordered whether it was a `collections.OrderedDict` */
  constructor(readonly ordered: boolean) {}
}

/** A Python tuple. */
export class PyTuple {
  /** @param items the elements */
  constructor(readonly items: PyValue[]) {}
}

/** A global the pickle named (one of the accepted ones). */
export class PyGlobal {
  /** @param module Python module @param name attribute */
  constructor(readonly module: string, readonly name: string) {}
  /** `module.name`. */
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A value the reader can produce. */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyTuple
  | PyDict
  | PyGlobal
  | TensorRef
  | StorageRef;

const _CALLABLES = new Set([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
]);

function _allowed(module: string, name: string): boolean {
  if (_CALLABLES.has(`${module}.${name}`)) return true;
  return module === "torch" && Object.hasOwn(STORAGE_TYPES, name);
}

const _MARK = Symbol("mark");
type _Slot = PyValue | typeof _MARK;

const _OPCODE_NAMES: Record<number, string> = {
  0x69: "INST",
  0x6f: "OBJ",
  0x81: "NEWOBJ",
  0x92: "NEWOBJ_EX",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x50: "PERSID",
  0x49: "INT",
  0x4c: "LONG",
  0x53: "STRING",
  0x56: "UNICODE",
  0x46: "FLOAT",
  0x70: "PUT",
  0x67: "GET",
  0x64: "DICT",
  0x6c: "LIST",
  0x90: "EMPTY_SET",
  0x91: "FROZENSET",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
  0x8f: "ADDITEMS",
};

function _typeName(v: PyValue | undefined): string {
  if (v === undefined) return "nothing";
  if (v === null) return "None";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "bigint") return "int";
  if (typeof v === "string") return "str";
  if (v instanceof Uint8Array) return "bytes";
  if (Array.isArray(v)) return "list";
  if (v instanceof PyTuple) return "tuple";
  if (v instanceof PyDict) return v.ordered ? "OrderedDict" : "dict";
  if (v instanceof PyGlobal) return v.qualified;
  if ((v as TensorRef).kind === "tensor") return "tensor";
  return "storage";
}

/** What one {@link unpickle} call read: the value and where the pickle's STOP ended. */
export interface Unpickled {
  /** The pickled object. */
  value: PyValue;
  /** Offset just after the STOP opcode. */
  end: number;
}

/**
 * Reads one pickle starting at `start` of `bytes`. `source` names the file (and the record) in errors.
 * Persistent ids must be torch storage tuples; the same storage key always yields the same
 * {@link StorageRef} object (`storages` collects them, keyed by storage key, across calls).
 */
export function unpickle(
  bytes: Uint8Array,
  source: string,
  start = 0,
  storages: Map<string, StorageRef> = new Map(),
): Unpickled {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const stack: _Slot[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let p = start;
  let at = start;
  const fail = (msg: string): never => {
    throw new TorchPickleError(`${source}: pickle byte ${at}: ${msg}`);
  };
  const need = (n: number, what: string) => {
    if (n < 0 || p + n > bytes.length) {
      fail(`${what} needs ${n} bytes but the file ends at ${bytes.length} (truncated?)`);
    }
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) {
      fail("stack underflow (corrupt pickle)");
    }
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) {
      fail("stack underflow (corrupt pickle)");
    }
    return stack[stack.length - 1] as PyValue;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail("no MARK on the stack (corrupt pickle)");
    return stack.splice(m!) as PyValue[];
  };
  const str = (n: number, what: string): string => {
    need(n, what);
    try {
      return utf8.decode(bytes.subarray(p, p += n));
    } catch {
      return fail(`${what} is not valid UTF-8`);
    }
  };
  const line = (what: string): string => {
    const end = bytes.indexOf(0x0a, p);
    if (end < 0) fail(`${what} has no terminating newline (truncated?)`);
    const s = new TextDecoder("latin1").decode(bytes.subarray(p, end));
    p = end + 1;
    return s;
  };
  const global = (module: string, name: string): PyGlobal => {
    if (!_allowed(module, name)) {
      fail(
        `refusing global ${module}.${name}: a torch.save(state_dict) checkpoint only references ` +
          `collections.OrderedDict, torch._utils._rebuild_tensor_v2/_rebuild_parameter and ` +
          `torch.{${Object.keys(STORAGE_TYPES).join(",")}}`,
      );
    }
    return new PyGlobal(module, name);
  };
  const int = (v: PyValue, what: string): number => {
    if (
      typeof v === "bigint" && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ) {
      return Number(v);
    }
    if (typeof v !== "number" || !Number.isSafeInteger(v)) {
      fail(`${what} must be an int, got ${_typeName(v)}`);
    }
    return v as number;
  };
  const ints = (v: PyValue, what: string): number[] => {
    if (!(v instanceof PyTuple) && !Array.isArray(v)) {
      fail(`${what} must be a tuple of ints, got ${_typeName(v)}`);
    }
    const items = v instanceof PyTuple ? v.items : v as PyValue[];
    return items.map((x) => {
      const n = int(x, what);
      if (n < 0) fail(`${what} must be non-negative, got ${n}`);
      return n;
    });
  };
  const persistent = (pid: PyValue): StorageRef => {
    const t = pid instanceof PyTuple ? pid.items : null;
    if (!t || t.length < 5 || t.length > 6 || t[0] !== "storage") {
      return fail(`persistent id must be ('storage', type, key, location, numel), got ${_typeName(pid)}`);
    }
    const [, type, key, location, numelV] = t;
    if (!(type instanceof PyGlobal) || type.module !== "torch" || !Object.hasOwn(STORAGE_TYPES, type.name)) {
      return fail(`persistent id names ${_typeName(type)}, not a torch storage class`);
    }
    if (typeof key !== "string" || key === "") fail(`storage key must be a string, got ${_typeName(key)}`);
    if (typeof location !== "string") fail(`storage location must be a string, got ${_typeName(location)}`);
    const numel = int(numelV, "storage numel");
    if (numel < 0) fail(`storage numel must be non-negative, got ${numel}`);
    const dtype = STORAGE_TYPES[type.name];
    let viewOffset = 0;
    let rootKey = key as string;
    const view = t[5];
    if (view !== undefined && view !== null) {
      // legacy storage view: (view_key, offset, view_size) of the root storage `key`
      const v = view instanceof PyTuple ? view.items : null;
      if (!v || v.length !== 3 || typeof v[0] !== "string") fail("storage view must be (key, offset, size)");
      viewOffset = int(v![1], "storage view offset");
      rootKey = key as string;
      const size = int(v![2], "storage view size");
      const viewKey = `${rootKey}@${v![0]}`;
      const ref: StorageRef = { key: rootKey, dtype, numel: size, location: location as string, viewOffset };
      const seen = storages.get(viewKey);
      if (seen) return seen;
      storages.set(viewKey, ref);
      return ref;
    }
    const seen = storages.get(rootKey);
    if (seen) {
      if (seen.dtype !== dtype || seen.numel !== numel) {
        fail(`storage "${rootKey}" is referenced as ${dtype}×${numel} and as ${seen.dtype}×${seen.numel}`);
      }
      return seen;
    }
    const ref: StorageRef = { key: rootKey, dtype, numel, location: location as string, viewOffset };
    storages.set(rootKey, ref);
    return ref;
  };
  const rebuildTensor = (args: PyValue[]): TensorRef => {
    if (args.length < 6 || args.length > 7) {
      fail(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
    }
    const storage = args[0] as StorageRef;
    if (!storage || typeof storage !== "object" || !("viewOffset" in storage)) {
      fail(`_rebuild_tensor_v2: first argument must be a storage, got ${_typeName(args[0])}`);
    }
    const offset = int(args[1], "storage offset");
    if (offset < 0) fail(`storage offset must be non-negative, got ${offset}`);
    const shape = ints(args[2], "tensor size");
    const stride = ints(args[3], "tensor stride");
    if (shape.length !== stride.length) fail(`size has ${shape.length} dims but stride ${stride.length}`);
    if (typeof args[4] !== "boolean") fail(`requires_grad must be a bool, got ${_typeName(args[4])}`);
    if (!(args[5] instanceof PyDict) || args[5].map.size) fail("backward hooks must be an empty OrderedDict");
    return { kind: "tensor", storage, offset, shape, stride };
  };
  const call = (fn: PyValue, argsV: PyValue): PyValue => {
    if (!(fn instanceof PyGlobal) || !_CALLABLES.has(fn.qualified)) {
      return fail(`refusing to call ${_typeName(fn)}: only OrderedDict and the tensor rebuild functions`);
    }
    if (!(argsV instanceof PyTuple)) return fail(`REDUCE arguments must be a tuple, got ${_typeName(argsV)}`);
    const args = argsV.items;
    switch (fn.name) {
      case "OrderedDict": {
        const d = new PyDict(true);
        if (args.length > 1) fail("OrderedDict takes at most one argument");
        if (args.length === 1) {
          const items = args[0];
          if (!Array.isArray(items)) {
            fail(`OrderedDict argument must be a list of pairs, got ${_typeName(items)}`);
          }
          for (const pair of items as PyValue[]) {
            if (!(pair instanceof PyTuple) || pair.items.length !== 2) {
              fail("OrderedDict items must be pairs");
            }
            setItem(d, (pair as PyTuple).items[0], (pair as PyTuple).items[1]);
          }
        }
        return d;
      }
      case "_rebuild_tensor_v2":
        return rebuildTensor(args);
      default: { // _rebuild_parameter(data, requires_grad, backward_hooks)
        const t = args[0] as TensorRef;
        if (args.length !== 3 || !t || (t as TensorRef).kind !== "tensor") {
          return fail("_rebuild_parameter takes (tensor, requires_grad, backward_hooks)");
        }
        return t;
      }
    }
  };
  const setItem = (d: PyValue, k: PyValue, v: PyValue) => {
    if (!(d instanceof PyDict)) return fail(`SETITEM on ${_typeName(d)}, not a dict`);
    if (
      k !== null && typeof k !== "string" && typeof k !== "number" && typeof k !== "bigint" &&
      typeof k !== "boolean"
    ) {
      return fail(`dict key of type ${_typeName(k)} is not supported`);
    }
    d.map.set(k, v);
  };
  const memoIndex = (n: number) => {
    const v = top();
    memo.set(n, v);
  };
  const memoGet = (n: number) => {
    if (!memo.has(n)) fail(`memo entry ${n} was never stored (corrupt pickle)`);
    stack.push(memo.get(n)!);
  };

  for (;;) {
    at = p;
    need(1, "opcode");
    const op = bytes[p++];
    switch (op) {
      case 0x80: // PROTO
        need(1, "PROTO");
        if (bytes[p] < 2 || bytes[p] > 5) fail(`pickle protocol ${bytes[p]} is not supported (2 to 5)`);
        p++;
        break;
      case 0x95: // FRAME
        need(8, "FRAME");
        p += 8;
        break;
      case 0x2e: { // STOP
        const value = pop();
        if (stack.length || marks.length) fail("STOP with values left on the stack (corrupt pickle)");
        return { value, end: p };
      }
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        need(4, "BININT");
        stack.push(dv.getInt32(p, true));
        p += 4;
        break;
      case 0x4b: // BININT1
        need(1, "BININT1");
        stack.push(bytes[p++]);
        break;
      case 0x4d: // BININT2
        need(2, "BININT2");
        stack.push(dv.getUint16(p, true));
        p += 2;
        break;
      case 0x8a: // LONG1
      case 0x8b: { // LONG4
        const wide = op === 0x8b;
        need(wide ? 4 : 1, "LONG length");
        const n = wide ? dv.getInt32(p, true) : bytes[p];
        p += wide ? 4 : 1;
        if (n > 64) fail(`integer of ${n} bytes is out of range`);
        need(n, "LONG");
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[p + i]);
        if (n > 0 && bytes[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        const small = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
        stack.push(small ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT
        need(8, "BINFLOAT");
        stack.push(dv.getFloat64(p, false));
        p += 8;
        break;
      case 0x58: // BINUNICODE
        need(4, "BINUNICODE length");
        p += 4;
        stack.push(str(dv.getUint32(p - 4, true), "BINUNICODE"));
        break;
      case 0x8c: // SHORT_BINUNICODE
        need(1, "SHORT_BINUNICODE length");
        p += 1;
        stack.push(str(bytes[p - 1], "SHORT_BINUNICODE"));
        break;
      case 0x8d: { // BINUNICODE8
        need(8, "BINUNICODE8 length");
        const n = Number(dv.getBigUint64(p, true));
        p += 8;
        stack.push(str(n, "BINUNICODE8"));
        break;
      }
      case 0x55: // SHORT_BINSTRING (a Python 2 str: bytes read as latin-1)
      case 0x54: { // BINSTRING
        const short = op === 0x55;
        need(short ? 1 : 4, "BINSTRING length");
        const n = short ? bytes[p] : dv.getInt32(p, true);
        p += short ? 1 : 4;
        need(n, "BINSTRING");
        stack.push(new TextDecoder("latin1").decode(bytes.subarray(p, p += n)));
        break;
      }
      case 0x43: // SHORT_BINBYTES
      case 0x42: // BINBYTES
      case 0x8e: { // BINBYTES8
        const w = op === 0x43 ? 1 : op === 0x42 ? 4 : 8;
        need(w, "BINBYTES length");
        const n = w === 1 ? bytes[p] : w === 4 ? dv.getUint32(p, true) : Number(dv.getBigUint64(p, true));
        p += w;
        need(n, "BINBYTES");
        stack.push(bytes.slice(p, p += n));
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: { // TUPLE3
        const n = op - 0x84;
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        stack.push(new PyTuple(items));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x61: { // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) fail(`APPEND to ${_typeName(list)}, not a list`);
        (list as PyValue[]).push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail(`APPENDS to ${_typeName(list)}, not a list`);
        for (const v of items) (list as PyValue[]).push(v);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict(false));
        break;
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItem(top(), k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2) fail("SETITEMS with an odd number of values (corrupt pickle)");
        const d = top();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x63: { // GLOBAL
        const module = line("GLOBAL module");
        const name = line("GLOBAL name");
        stack.push(global(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const target = top();
        if (!(target instanceof PyDict) || !(state instanceof PyDict)) {
          fail(`BUILD of ${_typeName(target)} with ${_typeName(state)} state is not supported`);
        }
        for (const [k, v] of (state as PyDict).map) {
          if (typeof k !== "string") fail("BUILD state keys must be strings");
          (target as PyDict).attrs.set(k as string, v);
        }
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      case 0x71: // BINPUT
        need(1, "BINPUT");
        memoIndex(bytes[p++]);
        break;
      case 0x72: // LONG_BINPUT
        need(4, "LONG_BINPUT");
        memoIndex(dv.getUint32(p, true));
        p += 4;
        break;
      case 0x94: // MEMOIZE
        memoIndex(memo.size);
        break;
      case 0x68: // BINGET
        need(1, "BINGET");
        memoGet(bytes[p++]);
        break;
      case 0x6a: // LONG_BINGET
        need(4, "LONG_BINGET");
        memoGet(dv.getUint32(p, true));
        p += 4;
        break;
      default: {
        const name = _OPCODE_NAMES[op];
        const hex = `0x${op.toString(16).padStart(2, "0")}`;
        fail(
          name
            ? `refusing opcode ${name} (${hex}): not in the subset torch.save(state_dict) writes`
            : `unknown pickle opcode ${hex} (corrupt file or not a PyTorch checkpoint)`,
        );
      }
    }
  }
}

/** Python's name for a value's type, for messages. */
export function pyTypeName(v: PyValue | undefined): string {
  return _typeName(v);
}
