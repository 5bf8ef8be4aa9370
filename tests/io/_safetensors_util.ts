/**
 * Test helpers: build safetensors bytes by hand (any header, any data), independent of the writer under
 * test, and check that a parse result is self-consistent.
 * @module
 */
import { DTYPE_SIZE, numel, type SafetensorsFile } from "../../src/io/safetensors.ts";

/** Header length (8-byte LE) + header text + data, with the length field overridable. */
export function rawFile(header: unknown, data: Uint8Array, lengthField?: bigint): Uint8Array {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** One tensor for {@link buildFile}: raw little-endian bytes. */
export interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** A valid file holding `tensors` in the given order (offsets contiguous), plus the header object. */
export function buildFile(
  tensors: RawTensor[],
  metadata?: Record<string, string>,
): { bytes: Uint8Array; header: Record<string, unknown>; data: Uint8Array } {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    off += t.bytes.length;
  }
  const data = new Uint8Array(off);
  off = 0;
  for (const t of tensors) {
    data.set(t.bytes, off);
    off += t.bytes.length;
  }
  return { bytes: rawFile(header, data), header, data };
}

/** Little-endian bytes of a typed array. */
export function le(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

/**
 * Throws unless every tensor of `f` is a view into `file`'s data region with the byte count its
 * shape and dtype imply, and the tensors tile the data region exactly.
 */
export function assertConsistent(f: SafetensorsFile, file: Uint8Array, label: string): void {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const start = file.byteOffset + 8 + n, end = file.byteOffset + file.length;
  const spans: [number, number][] = [];
  for (const [name, t] of f.tensors) {
    const want = numel(t.shape) * DTYPE_SIZE[t.dtype];
    if (t.data.buffer !== file.buffer) throw new Error(`${label}: ${name} is not a view into the file`);
    if (t.data.length !== want) throw new Error(`${label}: ${name} has ${t.data.length} bytes, want ${want}`);
    if (t.data.byteOffset < start || t.data.byteOffset + t.data.length > end) {
      throw new Error(`${label}: ${name} lies outside the data region`);
    }
    spans.push([t.data.byteOffset, t.data.byteOffset + t.data.length]);
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let pos = start;
  for (const [s, e] of spans) {
    if (s !== pos) throw new Error(`${label}: tensors overlap or leave a gap at ${s - start}`);
    pos = e;
  }
  if (pos !== end) throw new Error(`${label}: tensors cover ${pos - start} of ${end - start} data bytes`);
}

export { rng } from "../_util.ts";
