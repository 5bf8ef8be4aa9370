/**
 * A small ZIP reader for checkpoint archives (PyTorch's `torch.save` writes one): the end-of-central-
 * directory record (ZIP64 too), the central directory, and each entry's local header, with Deno/web
 * built-ins only. Stored entries are returned as views into the archive bytes (no copy); deflated ones are
 * inflated with `DecompressionStream("deflate-raw")`. Archives are untrusted input: every offset and size
 * is checked against the file before use, and errors name the archive and the entry.
 * @module
 */

/** A malformed or unsupported ZIP archive. */
export class ZipError extends Error {
  /** @param message what is wrong, naming the archive and the entry */
  constructor(message: string) {
    super(message);
    this.name = "ZipError";
  }
}

/** One entry of the central directory. */
export interface ZipEntry {
  /** Path inside the archive (`pytorch_model/data.pkl`). */
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  /** Bytes of the entry's data in the archive. */
  compressedSize: number;
  /** Bytes once extracted. */
  size: number;
  /** CRC-32 of the extracted bytes, as the directory records it. */
  crc32: number;
  /** Offset of the entry's local header. */
  localOffset: number;
}

/** A parsed archive: its entries by name, and a way to get their bytes. */
export interface ZipArchive {
  /** Entries by name, in central-directory order. */
  entries: Map<string, ZipEntry>;
  /** The extracted bytes of an entry (a view into the archive for stored entries). */
  read(name: string): Promise<Uint8Array>;
}

const _EOCD = 0x06054b50;
const _EOCD64 = 0x06064b50;
const _EOCD64_LOCATOR = 0x07064b50;
const _CENTRAL = 0x02014b50;
const _LOCAL = 0x04034b50;

function _u64(dv: DataView, at: number, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`${what} ${v} is too large`);
  return Number(v);
}

/** Finds the end-of-central-directory record: the last signature with a consistent comment length. */
function _findEocd(dv: DataView, source: string): number {
  const n = dv.byteLength;
  if (n < 22) throw new ZipError(`${source}: ${n} bytes is too short for a ZIP archive (truncated?)`);
  const stop = Math.max(0, n - 22 - 0xffff);
  for (let at = n - 22; at >= stop; at--) {
    if (dv.getUint32(at, true) === _EOCD && at + 22 + dv.getUint16(at + 20, true) === n) return at;
  }
  throw new ZipError(`${source}: no ZIP end-of-central-directory record (truncated or not a ZIP archive)`);
}

/** ZIP64 extended information (extra field 0x0001) replaces the 0xffffffff sizes/offset, in order. */
function _zip64Extra(
  dv: DataView,
  at: number,
  end: number,
  wanted: { size: boolean; compressed: boolean; offset: boolean },
  where: string,
): { size?: number; compressed?: number; offset?: number } {
  while (at + 4 <= end) {
    const id = dv.getUint16(at, true);
    const len = dv.getUint16(at + 2, true);
    if (at + 4 + len > end) break;
    if (id === 0x0001) {
      const out: { size?: number; compressed?: number; offset?: number } = {};
      let p = at + 4;
      const take = (what: string) => {
        if (p + 8 > at + 4 + len) throw new ZipError(`${where}: ZIP64 extra field too short for the ${what}`);
        const v = _u64(dv, p, `${where}: ZIP64 ${what}`);
        p += 8;
        return v;
      };
      if (wanted.size) out.size = take("size");
      if (wanted.compressed) out.compressed = take("compressed size");
      if (wanted.offset) out.offset = take("header offset");
      return out;
    }
    at += 4 + len;
  }
  throw new ZipError(`${where}: sizes are marked ZIP64 but the entry has no ZIP64 extra field`);
}

async function _inflate(data: Uint8Array, size: number, where: string): Promise<Uint8Array> {
  if (typeof DecompressionStream === "undefined") {
    throw new ZipError(`${where}: entry is deflated and this runtime has no DecompressionStream`);
  }
  // Chunks are collected and joined at the end, so a directory claiming a huge size allocates nothing.
  const chunks: Uint8Array[] = [];
  let at = 0;
  try {
    const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new DecompressionStream("deflate-raw"),
    );
    for await (const chunk of stream) {
      if (at + chunk.length > size) throw new ZipError(`${where}: inflates to more than its ${size} bytes`);
      chunks.push(chunk);
      at += chunk.length;
    }
  } catch (e) {
    if (e instanceof ZipError) throw e;
    throw new ZipError(`${where}: corrupt deflate data (${(e as Error).message})`);
  }
  if (at !== size) throw new ZipError(`${where}: inflates to ${at} bytes, the directory says ${size}`);
  const out = new Uint8Array(size);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/**
 * Parses the directory of a ZIP archive held in memory. `source` (a path or label) is named in every
 * error. Entries with methods other than stored (0) and deflate (8), encrypted entries, multi-disk
 * archives and entries reaching past the file are rejected with {@link ZipError}.
 */
export function openZip(bytes: Uint8Array, source: string): ZipArchive {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eocd = _findEocd(dv, source);
  let count = dv.getUint16(eocd + 10, true);
  let dirSize = dv.getUint32(eocd + 12, true);
  let dirOffset = dv.getUint32(eocd + 16, true);
  if (dv.getUint16(eocd + 4, true) !== 0 || dv.getUint16(eocd + 6, true) !== 0) {
    throw new ZipError(`${source}: multi-disk ZIP archives are not supported`);
  }
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== _EOCD64_LOCATOR) {
      throw new ZipError(`${source}: ZIP64 sizes without a ZIP64 end-of-central-directory locator`);
    }
    const at = _u64(dv, loc + 8, `${source}: ZIP64 record offset`);
    if (at + 56 > bytes.length || dv.getUint32(at, true) !== _EOCD64) {
      throw new ZipError(`${source}: ZIP64 end-of-central-directory record missing or out of range`);
    }
    count = _u64(dv, at + 32, `${source}: ZIP64 entry count`);
    dirSize = _u64(dv, at + 40, `${source}: ZIP64 directory size`);
    dirOffset = _u64(dv, at + 48, `${source}: ZIP64 directory offset`);
  }
  if (dirOffset + dirSize > bytes.length) {
    throw new ZipError(
      `${source}: central directory [${dirOffset}, ${dirOffset + dirSize}) reaches beyond the file ` +
        `(${bytes.length} bytes); truncated?`,
    );
  }
  const names = new TextDecoder("utf-8");
  const entries = new Map<string, ZipEntry>();
  let p = dirOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > dirOffset + dirSize || dv.getUint32(p, true) !== _CENTRAL) {
      throw new ZipError(`${source}: central directory entry ${i} is missing or corrupt`);
    }
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    const crc32 = dv.getUint32(p + 16, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localOffset = dv.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > dirOffset + dirSize) throw new ZipError(`${source}: central directory entry ${i} is truncated`);
    const name = names.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    const where = `${source}: entry "${name}"`;
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff) {
      const x = _zip64Extra(dv, p + 46 + nameLen, p + 46 + nameLen + extraLen, {
        size: size === 0xffffffff,
        compressed: compressedSize === 0xffffffff,
        offset: localOffset === 0xffffffff,
      }, where);
      size = x.size ?? size;
      compressedSize = x.compressed ?? compressedSize;
      localOffset = x.offset ?? localOffset;
    }
    if (flags & 1) throw new ZipError(`${where}: encrypted entries are not supported`);
    if (method !== 0 && method !== 8) {
      throw new ZipError(`${where}: compression method ${method} is not supported (only stored and deflate)`);
    }
    if (method === 0 && size !== compressedSize) {
      throw new ZipError(
        `${where}: stored entry with size ${size} but ${compressedSize} bytes in the archive`,
      );
    }
    if (entries.has(name)) throw new ZipError(`${where}: appears twice in the central directory`);
    entries.set(name, { name, method, compressedSize, size, crc32, localOffset });
    p = end;
  }
  const dataStart = (e: ZipEntry): number => {
    const where = `${source}: entry "${e.name}"`;
    const at = e.localOffset;
    if (at + 30 > bytes.length || dv.getUint32(at, true) !== _LOCAL) {
      throw new ZipError(`${where}: local header missing at offset ${at} (truncated or corrupt archive)`);
    }
    const start = at + 30 + dv.getUint16(at + 26, true) + dv.getUint16(at + 28, true);
    if (start + e.compressedSize > bytes.length) {
      throw new ZipError(
        `${where}: data [${start}, ${start + e.compressedSize}) reaches beyond the file (${bytes.length} ` +
          `bytes); truncated?`,
      );
    }
    return start;
  };
  return {
    entries,
    read(name: string): Promise<Uint8Array> {
      const e = entries.get(name);
      if (!e) return Promise.reject(new ZipError(`${source}: no entry "${name}" in the archive`));
      let start: number;
      try {
        start = dataStart(e);
      } catch (err) {
        return Promise.reject(err);
      }
      const where = `${source}: entry "${e.name}"`;
      const data = bytes.subarray(start, start + e.compressedSize);
      const checked = (out: Uint8Array) => {
        const crc = crc32(out);
        if (crc !== e.crc32) {
          throw new ZipError(
            `${where}: CRC-32 ${_hex(crc)} differs from the directory's ${_hex(e.crc32)} (corrupt archive)`,
          );
        }
        return out;
      };
      if (e.method === 0) {
        try {
          return Promise.resolve(checked(data));
        } catch (err) {
          return Promise.reject(err);
        }
      }
      return _inflate(data, e.size, where).then(checked);
    },
  };
}

let _crcTables: Uint32Array[] | null = null;

function _hex(v: number): string {
  return "0x" + v.toString(16).padStart(8, "0");
}

/** The CRC-32 (ISO-HDLC, as ZIP uses) of `bytes`, eight bytes per step ("slicing-by-8" tables). */
export function crc32(bytes: Uint8Array): number {
  if (!_crcTables) {
    const t0 = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t0[n] = c >>> 0;
    }
    _crcTables = [t0];
    for (let k = 1; k < 8; k++) {
      const prev = _crcTables[k - 1];
      const t = new Uint32Array(256);
      for (let n = 0; n < 256; n++) t[n] = (prev[n] >>> 8) ^ t0[prev[n] & 0xff];
      _crcTables.push(t);
    }
  }
  const [t0, t1, t2, t3, t4, t5, t6, t7] = _crcTables;
  let c = 0xffffffff;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  for (; i < end8; i += 8) {
    const lo = (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)) ^ c;
    c = t7[lo & 0xff] ^ t6[(lo >>> 8) & 0xff] ^ t5[(lo >>> 16) & 0xff] ^ t4[lo >>> 24] ^
      t3[bytes[i + 4]] ^ t2[bytes[i + 5]] ^ t1[bytes[i + 6]] ^ t0[bytes[i + 7]];
  }
  for (; i < bytes.length; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** True when `bytes` start with a ZIP local-file-header signature (`PK\x03\x04`). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
}
