/**
 * Reading files or URLs: `file:` URLs and plain paths go through Deno's file APIs, anything else through
 * `fetch`, so shipped data located with `import.meta.url` works when the module is imported over http.
 * @module
 */
import { fileURLToPath, isAbsolute, pathToFileURL, resolve } from "../io/path.ts";
import { DataError } from "./errors.ts";
import { readFileBytes, readFileText } from "../io/storage.ts";

/** A file location: a filesystem path (relative to the working directory) or a URL. */
export type Location = string | URL;

const _URL_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]+:\/\//;

/**
 * Turns a path or URL into a URL. Strings with a `scheme://` prefix are parsed as URLs (Windows drive paths
 * such as `C:\x` have no `//` and stay paths); other strings are paths resolved against the working directory.
 */
export function toUrl(location: Location): URL {
  if (location instanceof URL) return location;
  if (_URL_SCHEME.test(location)) return new URL(location);
  return pathToFileURL(isAbsolute(location) ? location : resolve(location));
}

/** A location as shown in messages: a filesystem path for `file:` URLs, the URL otherwise. */
export function displayLocation(location: Location): string {
  const url = toUrl(location);
  return url.protocol === "file:" ? fileURLToPath(url) : url.href;
}

/** The URL of `name` inside the directory `dir` (a trailing slash is added to `dir` when missing). */
export function joinUrl(dir: Location, name: string): URL {
  const url = toUrl(dir);
  const base = url.href.endsWith("/") ? url : new URL(url.href + "/");
  return new URL(name, base);
}

/** Whether a location is on the local filesystem (a path or a `file:` URL). */
export function isLocal(location: Location): boolean {
  return toUrl(location).protocol === "file:";
}

async function _fetchOk(url: URL): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new DataError({ file: url.href }, `cannot fetch: ${(error as Error).message}`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new DataError({ file: url.href }, `HTTP ${response.status} ${response.statusText}`);
  }
  return response;
}

function _readFailure(location: Location, error: unknown): DataError {
  const reason = (error as Error)?.name === "NotFound" ? "file not found" : (error as Error).message;
  return new DataError({ file: displayLocation(location) }, reason);
}

/** Reads a whole text file (UTF-8) from a path or URL. Missing files raise a {@linkcode DataError}. */
export async function readText(location: Location): Promise<string> {
  const url = toUrl(location);
  if (url.protocol !== "file:") return await (await _fetchOk(url)).text();
  try {
    return await readFileText(url);
  } catch (error) {
    throw _readFailure(location, error);
  }
}

/** Reads a whole binary file from a path or URL. Missing files raise a {@linkcode DataError}. */
export async function readBytes(location: Location): Promise<Uint8Array> {
  const url = toUrl(location);
  if (url.protocol !== "file:") return new Uint8Array(await (await _fetchOk(url)).arrayBuffer());
  try {
    return await readFileBytes(url);
  } catch (error) {
    throw _readFailure(location, error);
  }
}

/** Whether a file exists at the location (a HEAD request for http URLs). */
export async function exists(location: Location): Promise<boolean> {
  const url = toUrl(location);
  if (url.protocol !== "file:") {
    try {
      const response = await fetch(url, { method: "HEAD" });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }
  try {
    await Deno.stat(url);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw _readFailure(location, error);
  }
}

/**
 * Parses a JSON file. Syntax errors are reported with the file and the line of the error position.
 * @returns the parsed value and the raw text (for locating keys in later messages)
 */
export async function readJson(location: Location): Promise<{ value: unknown; text: string }> {
  const text = await readText(location);
  return { value: parseJsonText(text, displayLocation(location)), text };
}

/** Parses JSON text, reporting syntax errors as a {@linkcode DataError} naming `file` and (when known) the line. */
export function parseJsonText(text: string, file: string, firstLine = 1): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    // V8 gives a position for most syntax errors; "Unexpected end" is at the last line; otherwise unknown
    // (one-line texts such as JSON Lines records are their own line anyway).
    const offset = position ? Number(position[1]) : /end of JSON/.test(message) ? text.length : undefined;
    const single = !text.includes("\n");
    const line = offset !== undefined ? lineAt(text, offset) + firstLine - 1 : single ? firstLine : undefined;
    throw new DataError({ file, line }, `invalid JSON: ${message}`);
  }
}

/** The 1-based line number of character offset `offset` in `text`. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** Names of the entries of a local directory (sorted). Remote directories cannot be listed. */
export async function listDir(location: Location): Promise<string[]> {
  const url = toUrl(location);
  if (url.protocol !== "file:") {
    throw new DataError({ file: url.href }, "cannot list a directory over http; name the files instead");
  }
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(url)) names.push(entry.name);
  } catch (error) {
    throw _readFailure(location, error);
  }
  return names.sort();
}

/** Whether the location is a local directory. */
export async function isDirectory(location: Location): Promise<boolean> {
  const url = toUrl(location);
  if (url.protocol !== "file:") return url.href.endsWith("/");
  try {
    return (await Deno.stat(url)).isDirectory;
  } catch {
    return false;
  }
}
