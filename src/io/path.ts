/**
 * POSIX path helpers with `node:path`'s semantics for the calls this library makes (join, dirname, basename,
 * isAbsolute, normalize, resolve, relative) and file-URL conversion, written on web built-ins only so that
 * modules using them also load in a browser (no `node:` import). `resolve` and `pathToFileURL` of a relative
 * path use `Deno.cwd()` where Deno exists and `/` elsewhere.
 * @module
 */

function _cwd(): string {
  // deno-lint-ignore no-explicit-any
  const d = (globalThis as any).Deno;
  return d && typeof d.cwd === "function" ? d.cwd() : "/";
}

/** `node:path`'s `normalize` (POSIX): collapses `//`, `.` and `dir/..`; keeps a trailing slash. */
export function normalize(path: string): string {
  if (path === "") return ".";
  const abs = path.startsWith("/");
  const trailing = path.endsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length && out[out.length - 1] !== "..") out.pop();
      else if (!abs) out.push("..");
    } else out.push(part);
  }
  let s = (abs ? "/" : "") + out.join("/");
  if (s === "") s = abs ? "/" : ".";
  if (trailing && s !== "/") s += "/";
  return s;
}

/** True for a path starting at the root (`/`), as `node:path`'s POSIX `isAbsolute`. */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/** Joins segments with `/` and normalizes (empty segments skipped), as `node:path`'s `join`. */
export function join(...parts: string[]): string {
  const kept = parts.filter((p) => p !== "");
  return kept.length ? normalize(kept.join("/")) : ".";
}

/** Absolute path from right to left, then the working directory, normalized without a trailing slash. */
export function resolve(...parts: string[]): string {
  let acc = "";
  for (let i = parts.length - 1; i >= 0 && !acc.startsWith("/"); i--) {
    if (parts[i]) acc = acc ? `${parts[i]}/${acc}` : parts[i];
  }
  if (!acc.startsWith("/")) acc = acc ? `${_cwd()}/${acc}` : _cwd();
  const n = normalize(acc);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

function _trimTrailing(path: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === "/") end--;
  return path.slice(0, end);
}

/** The folder part of a path (`.` when none), as `node:path`'s `dirname`. */
export function dirname(path: string): string {
  if (path === "") return ".";
  const p = _trimTrailing(path);
  const i = p.lastIndexOf("/");
  if (i < 0) return ".";
  if (i === 0) return "/";
  return _trimTrailing(p.slice(0, i));
}

/** The last segment of a path (trailing slashes ignored), as `node:path`'s `basename`. */
export function basename(path: string): string {
  const p = _trimTrailing(path);
  if (p === "/") return "";
  return p.slice(p.lastIndexOf("/") + 1);
}

/** The path from `from` to `to` (both resolved), as `node:path`'s `relative`. */
export function relative(from: string, to: string): string {
  const a = resolve(from).split("/").filter(Boolean);
  const b = resolve(to).split("/").filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...Array(a.length - i).fill(".."), ...b.slice(i)].join("/");
}

/** A `file:` URL's path, percent-decoded (`node:url`'s `fileURLToPath`); throws for other schemes. */
export function fileURLToPath(url: URL | string): string {
  const u = typeof url === "string" ? new URL(url) : url;
  if (u.protocol !== "file:") throw new TypeError(`the URL must be of scheme file, got ${u.protocol}`);
  if (u.hostname !== "" && u.hostname !== "localhost") {
    throw new TypeError(`file URL host must be "localhost" or empty, got ${u.hostname}`);
  }
  if (/%2f/i.test(u.pathname)) throw new TypeError("file URL path must not include encoded / characters");
  return decodeURIComponent(u.pathname);
}

/** The `file:` URL of a path (resolved against the working directory), special characters escaped. */
export function pathToFileURL(path: string): URL {
  let p = resolve(path);
  if (path.endsWith("/") && !p.endsWith("/")) p += "/";
  const enc = p.split("/").map((s) => encodeURIComponent(s)).join("/");
  return new URL(`file://${enc}`);
}
