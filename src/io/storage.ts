/**
 * The storage seam: where model files are read from and written to. http(s) URLs are always read with
 * `fetch` (the browser's HTTP cache applies in a tab); other paths go to Deno's file system where Deno
 * exists, and to the current {@link FileStore} elsewhere (a {@link MemoryStore} by default in a browser;
 * `setFileStore` plugs in another, e.g. one over the Origin Private File System). Nothing here touches
 * `Deno` at import time, so modules using it load in a browser.
 * @module
 */

/** A minimal file store for environments without Deno's file system. Paths are `/`-separated strings. */
export interface FileStore {
  /** The bytes of a file; throws a `NotFound`-named error when there is none. */
  readFile(path: string): Promise<Uint8Array>;
  /** Creates or replaces a file. */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  /** Whether a file exists. */
  exists(path: string): Promise<boolean>;
  /** Names of the files directly under `dir`, sorted. */
  list(dir: string): Promise<string[]>;
}

function _norm(path: string): string {
  return path.replace(/\/+/g, "/").replace(/^\.\//, "").replace(/\/$/, "");
}

/** An in-memory {@link FileStore} (the default in a browser: writes last as long as the page). */
export class MemoryStore implements FileStore {
  #files = new Map<string, Uint8Array>();

  /** The bytes of a file (a copy is not made). */
  readFile(path: string): Promise<Uint8Array> {
    const b = this.#files.get(_norm(path));
    if (!b) {
      const e = new Error(`${path}: file not found`);
      e.name = "NotFound";
      return Promise.reject(e);
    }
    return Promise.resolve(b);
  }

  /** Stores a file. */
  writeFile(path: string, data: Uint8Array): Promise<void> {
    this.#files.set(_norm(path), data);
    return Promise.resolve();
  }

  /** Whether a file is stored at `path`. */
  exists(path: string): Promise<boolean> {
    return Promise.resolve(this.#files.has(_norm(path)));
  }

  /** Names of the files directly under `dir`. */
  list(dir: string): Promise<string[]> {
    const d = _norm(dir);
    const prefix = d === "" ? "" : d + "/";
    const out = new Set<string>();
    for (const k of this.#files.keys()) {
      if (k.startsWith(prefix)) out.add(k.slice(prefix.length).split("/")[0]);
    }
    return Promise.resolve([...out].sort());
  }
}

/**
 * A {@link FileStore} over the browser's Origin Private File System (`navigator.storage.getDirectory()`),
 * so written files outlive the page; folders are created on write.
 */
export class OpfsStore implements FileStore {
  // deno-lint-ignore no-explicit-any
  async #dir(parts: string[], create: boolean): Promise<any> {
    // deno-lint-ignore no-explicit-any
    let d = await (globalThis.navigator as any).storage.getDirectory();
    for (const p of parts) d = await d.getDirectoryHandle(p, { create });
    return d;
  }

  #split(path: string): { dirs: string[]; name: string } {
    const parts = _norm(path).split("/").filter((p) => p && p !== ".");
    return { dirs: parts.slice(0, -1), name: parts[parts.length - 1] ?? "" };
  }

  /** The bytes of a file (a `NotFound` error when absent). */
  async readFile(path: string): Promise<Uint8Array> {
    const { dirs, name } = this.#split(path);
    try {
      const fh = await (await this.#dir(dirs, false)).getFileHandle(name);
      return new Uint8Array(await (await fh.getFile()).arrayBuffer());
    } catch (e) {
      const err = new Error(`${path}: file not found (${(e as Error).message})`);
      err.name = "NotFound";
      throw err;
    }
  }

  /** Creates or replaces a file. */
  async writeFile(path: string, data: Uint8Array): Promise<void> {
    const { dirs, name } = this.#split(path);
    const fh = await (await this.#dir(dirs, true)).getFileHandle(name, { create: true });
    const w = await fh.createWritable();
    await w.write(data);
    await w.close();
  }

  /** Whether a file exists. */
  async exists(path: string): Promise<boolean> {
    try {
      await this.readFile(path);
      return true;
    } catch {
      return false;
    }
  }

  /** Names of the entries directly under `dir`, sorted. */
  async list(dir: string): Promise<string[]> {
    const parts = _norm(dir).split("/").filter((p) => p && p !== ".");
    const names: string[] = [];
    try {
      for await (const name of (await this.#dir(parts, false)).keys()) names.push(name);
    } catch {
      return [];
    }
    return names.sort();
  }
}

let _store: FileStore | undefined;

/** Whether Deno's runtime (file system, env, signals) is available. */
export function hasDeno(): boolean {
  // deno-lint-ignore no-explicit-any
  const d = (globalThis as any).Deno;
  return typeof d === "object" && d !== null && typeof d.readFile === "function";
}

/** True for an `http:`/`https:` URL (object or string). */
export function isHttpUrl(location: string | URL): boolean {
  const s = location instanceof URL ? location.href : location;
  return /^https?:\/\//i.test(s);
}

/** Replaces the store used for paths where Deno's file system is absent. */
export function setFileStore(store: FileStore): void {
  _store = store;
}

/** The store used for paths where Deno's file system is absent (a {@link MemoryStore} unless set). */
export function fileStore(): FileStore {
  return _store ??= new MemoryStore();
}

async function _fetchBytes(url: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`${url}: cannot fetch: ${(e as Error).message}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * The bytes at a path or URL: `fetch` for http(s), `Deno.readFile` where Deno exists (its errors unchanged),
 * the {@link fileStore} otherwise.
 */
export function readFileBytes(location: string | URL): Promise<Uint8Array> {
  if (isHttpUrl(location)) return _fetchBytes(location instanceof URL ? location.href : location);
  if (hasDeno()) return Deno.readFile(location);
  const s = location instanceof URL ? decodeURIComponent(location.pathname) : location;
  return fileStore().readFile(s);
}

/** The UTF-8 text at a path or URL (see {@link readFileBytes}). */
export async function readFileText(location: string | URL): Promise<string> {
  if (hasDeno() && !isHttpUrl(location)) return await Deno.readTextFile(location);
  return new TextDecoder().decode(await readFileBytes(location));
}

/** Writes a file: Deno's file system (parent folders created) where Deno exists, the {@link fileStore} otherwise. */
export async function writeFileBytes(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  if (hasDeno()) {
    const slash = path.lastIndexOf("/");
    if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
    await Deno.writeFile(path, bytes);
    return;
  }
  await fileStore().writeFile(path, bytes);
}

/** Files of a folder given by an http(s) URL, each as its URL; `optional` ones are probed with HEAD. */
export async function resolveUrlFolder(
  base: string,
  wanted: string[],
  optional: Set<string>,
  fetchFn: typeof fetch = fetch,
): Promise<{ dir: string; files: Record<string, string> }> {
  const dir = base.endsWith("/") ? base : base + "/";
  const files: Record<string, string> = {};
  await Promise.all(wanted.map(async (f) => {
    const url = new URL(f.split("/").map(encodeURIComponent).join("/"), dir).href;
    if (!optional.has(f)) {
      files[f] = url;
      return;
    }
    try {
      const res = await fetchFn(url, { method: "HEAD" });
      await res.body?.cancel();
      if (res.ok) files[f] = url;
    } catch {
      // unreachable: treated as absent, like a missing optional file
    }
  }));
  const missing = wanted.filter((f) => !optional.has(f) && !files[f]);
  if (missing.length) throw new Error(`${dir}: missing ${missing.join(", ")}`);
  return { dir: dir.replace(/\/$/, ""), files };
}
