/**
 * Strict UTF-8 text: a leading byte-order mark is dropped (it would otherwise hide a `-DOCSTART-` or a
 * first token) and invalid UTF-8 is an error naming the file, line and byte offset of the first bad byte,
 * instead of being decoded lossily into U+FFFD.
 * @module
 */
import { DataError } from "./errors.ts";
import { displayLocation, type Location, readBytes } from "./io.ts";

/** Byte offset of the first byte that is not part of a valid UTF-8 sequence, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    let n: number, min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) [n, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [n, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** Decodes UTF-8 bytes strictly (BOM dropped); throws a {@linkcode DataError} at the first invalid byte. */
export function decodeUtf8Strict(bytes: Uint8Array, file: string): string {
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    let line = 1;
    for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
    throw new DataError(
      { file, line },
      `invalid UTF-8 at byte offset ${bad} (0x${bytes[bad].toString(16).padStart(2, "0")}); ` +
        "the file must be UTF-8 text",
    );
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes); // drops a leading BOM
}

/** Reads a text file (path or URL) as strict UTF-8; see {@linkcode decodeUtf8Strict}. */
export async function readUtf8Strict(location: Location): Promise<string> {
  return decodeUtf8Strict(await readBytes(location), displayLocation(location));
}
