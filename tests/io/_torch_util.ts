/**
 * Test helpers that write PyTorch checkpoint bytes by hand, from the documented formats: pickle opcodes
 * (Python's `pickletools` names), the legacy `torch.save` layout and a ZIP archive (stored or deflated).
 */
import { crc32 } from "../../src/io/zip.ts";

/** Appends pickle opcodes. */
export class PickleWriter {
  #parts: number[] = [];
  #memo = 0;

  /** Raw bytes. */
  raw(...bytes: number[]): this {
    this.#parts.push(...bytes);
    return this;
  }
  /** PROTO n. */
  proto(n = 2): this {
    return this.raw(0x80, n);
  }
  /** GLOBAL 'module name'. */
  global(module: string, name: string): this {
    return this.raw(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  /** BINUNICODE. */
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.raw(0x58, ...le32(b.length), ...b);
  }
  /** BININT1 / BININT2 / BININT, whichever fits. */
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) return this.raw(0x4d, n & 0xff, n >> 8);
    return this.raw(0x4a, ...le32(n));
  }
  /** LONG1 of a bigint (two's complement, little-endian, minimal length). */
  long1(v: bigint): this {
    const out: number[] = [];
    let x = v;
    while (x !== 0n && x !== -1n) {
      out.push(Number(x & 0xffn));
      x >>= 8n;
    }
    if (v >= 0n && (out.length === 0 || out[out.length - 1] & 0x80)) out.push(0);
    if (v < 0n && (out.length === 0 || !(out[out.length - 1] & 0x80))) out.push(0xff);
    return this.raw(0x8a, out.length, ...out);
  }
  /** MARK. */
  mark(): this {
    return this.raw(0x28);
  }
  /** TUPLE (from MARK). */
  tuple(): this {
    return this.raw(0x74);
  }
  /** EMPTY_TUPLE. */
  emptyTuple(): this {
    return this.raw(0x29);
  }
  /** TUPLE1/2/3. */
  tupleN(n: 1 | 2 | 3): this {
    return this.raw(0x84 + n);
  }
  /** A tuple of small ints. */
  ints(xs: number[]): this {
    if (xs.length === 0) return this.emptyTuple();
    this.mark();
    for (const x of xs) this.int(x);
    return this.tuple();
  }
  /** EMPTY_DICT. */
  emptyDict(): this {
    return this.raw(0x7d);
  }
  /** EMPTY_LIST. */
  emptyList(): this {
    return this.raw(0x5d);
  }
  /** APPENDS (from MARK). */
  appends(): this {
    return this.raw(0x65);
  }
  /** SETITEM. */
  setitem(): this {
    return this.raw(0x73);
  }
  /** SETITEMS (from MARK). */
  setitems(): this {
    return this.raw(0x75);
  }
  /** REDUCE. */
  reduce(): this {
    return this.raw(0x52);
  }
  /** BUILD. */
  build(): this {
    return this.raw(0x62);
  }
  /** BINPERSID. */
  persid(): this {
    return this.raw(0x51);
  }
  /** NEWFALSE / NEWTRUE. */
  bool(b: boolean): this {
    return this.raw(b ? 0x88 : 0x89);
  }
  /** NONE. */
  none(): this {
    return this.raw(0x4e);
  }
  /** BINPUT of the next memo slot; returns its index through `slot`. */
  put(slot?: (i: number) => void): this {
    slot?.(this.#memo);
    return this.raw(0x71, this.#memo++);
  }
  /** BINGET. */
  get(i: number): this {
    return this.raw(0x68, i);
  }
  /** STOP. */
  stop(): this {
    return this.raw(0x2e);
  }
  /** The bytes so far. */
  bytes(): Uint8Array {
    return new Uint8Array(this.#parts);
  }
}

/** Little-endian int32 bytes. */
export function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** One state-dict entry to pickle. */
export interface PickledTensor {
  key: string;
  /** Storage key, its class name (`FloatStorage`, …) and element count. */
  storage: { key: string; type: string; numel: number };
  offset: number;
  size: number[];
  stride: number[];
}

/**
 * The state-dict pickle `torch.save` writes (protocol 2): an OrderedDict of `_rebuild_tensor_v2` calls on
 * persistent-id storages, then BUILD with `{"_metadata": OrderedDict()}`. `legacy` adds the sixth
 * persistent-id field (view metadata, None) of the pre-zip format.
 */
export function stateDictPickle(tensors: PickledTensor[], legacy = false): Uint8Array {
  const w = new PickleWriter().proto(2).global("collections", "OrderedDict").emptyTuple().reduce();
  w.mark();
  for (const t of tensors) {
    w.str(t.key).global("torch._utils", "_rebuild_tensor_v2");
    w.mark(); // args
    w.mark().str("storage").global("torch", t.storage.type).str(t.storage.key).str("cpu").int(
      t.storage.numel,
    );
    if (legacy) w.none();
    w.tuple().persid();
    w.int(t.offset).ints(t.size).ints(t.stride).bool(false);
    w.global("collections", "OrderedDict").emptyTuple().reduce();
    w.tuple().reduce();
  }
  w.setitems();
  w.emptyDict().str("_metadata").global("collections", "OrderedDict").emptyTuple().reduce().setitem().build();
  return w.stop().bytes();
}

/** One ZIP entry to write. */
export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Store deflated (raw deflate via CompressionStream). */
  deflate?: boolean;
}

async function _deflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("deflate-raw"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A ZIP archive (local headers, central directory, end record), as torch's writer lays it out. */
export async function writeZip(entries: ZipInput[]): Promise<Uint8Array> {
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const body = e.deflate ? await _deflate(e.data) : e.data;
    const crc = crc32(e.data);
    const local = new Uint8Array(30 + name.length + body.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, e.deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, e.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    local.set(body, 30 + name.length);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, e.deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, e.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const dirSize = centrals.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, dirSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + dirSize + 22);
  let p = 0;
  for (const part of [...locals, ...centrals, end]) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** Bytes of a typed array (little-endian host). */
export function bytesOf(a: Float32Array | Uint16Array | BigInt64Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/** A zip-format checkpoint of `tensors` with storages `data` (key → bytes), under `prefix/`. */
export function torchZip(
  tensors: PickledTensor[],
  data: Map<string, Uint8Array>,
  opts: { prefix?: string; deflate?: boolean } = {},
): Promise<Uint8Array> {
  const prefix = opts.prefix ?? "archive";
  return writeZip([
    { name: `${prefix}/data.pkl`, data: stateDictPickle(tensors) },
    { name: `${prefix}/byteorder`, data: new TextEncoder().encode("little") },
    ...[...data].map(([k, d]) => ({ name: `${prefix}/data/${k}`, data: d, deflate: opts.deflate })),
    { name: `${prefix}/version`, data: new TextEncoder().encode("3\n") },
  ]);
}

/**
 * A legacy (pre-1.6, non-zip) checkpoint: pickled magic number, protocol version 1001, sys_info, the state
 * dict, the sorted storage keys, then per key an int64 element count and the raw storage bytes.
 */
export function torchLegacy(
  tensors: PickledTensor[],
  data: Map<string, { bytes: Uint8Array; elemSize: number }>,
): Uint8Array {
  const magic = new PickleWriter().proto(2).long1(0x1950a86a20f9469cfc6cn).stop().bytes();
  const version = new PickleWriter().proto(2).int(1001).stop().bytes();
  const sys = new PickleWriter().proto(2).emptyDict().mark()
    .str("protocol_version").int(1001)
    .str("little_endian").bool(true)
    .str("type_sizes").emptyDict().mark().str("short").int(2).str("int").int(4).str("long").int(4).setitems()
    .setitems().stop().bytes();
  const body = stateDictPickle(tensors, true);
  const keys = [...data.keys()].sort();
  const kw = new PickleWriter().proto(2).emptyList().mark();
  for (const k of keys) kw.str(k);
  const keyList = kw.appends().stop().bytes();
  const parts: Uint8Array[] = [magic, version, sys, body, keyList];
  for (const k of keys) {
    const { bytes, elemSize } = data.get(k)!;
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigInt64(0, BigInt(bytes.length / elemSize), true);
    parts.push(count, bytes);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}
