/**
 * The storage seam: where model files are read from and written to. http(s) URLs are always read with
 * `fetch` (the browser's HTTP cache applies in a tab); other paths go to Deno's file system where Deno
 * exists, and to the current {@link FileStore} elsewhere (a {@link MemoryStore} by default in a browser;
 * `setFileStore` plugs in another, e.g. one over the Origin Private File System). Nothing here touches
 * `Deno` at import time, so modules using it load in a browser.
 * @module
 */

/**
 * A minimal file store: where model folders, checkpoints and logs are read from and written to (Deno's
 * file system, memory, the Origin Private File System, …). Paths are `/`-separated strings; folders are
 * implied by the paths of their files.
 */
export interface FileStore {
  /** The bytes of a file; throws a `NotFound`-named error when there is none. */
  readFile(path: string): Promise<Uint8Array>;
  /** Creates or replaces a file. */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  /** Whether a file exists. */
  exists(path: string): Promise<boolean>;
  /** Names of the entries (files and folders) directly under `dir`, sorted; `[]` for a missing folder. */
  list(dir: string): Promise<string[]>;
  /** Removes a file, or a folder with everything under it; a missing path is not an error. */
  remove(path: string): Promise<void>;
  /**
   * Moves a file or a folder to `to` (a file there is replaced; a folder there is an error). The commit
   * step of crash-safe writes (see `./store_write.ts`): it should be as close to atomic as the store allows.
   */
  rename(from: string, to: string): Promise<void>;
  /** Appends to a file (created when missing); without it, appends read and rewrite the file. */
  appendFile?(path: string, data: Uint8Array): Promise<void>;
  /** Writes a whole folder crash-safely in the store's own way (see `writeDirCommitted`). */
  writeDirAtomic?(dir: string, files: Record<string, Uint8Array | string>): Promise<void>;
  /** Writes files into a folder all or nothing in the store's own way (see `writeFilesCommitted`). */
  writeFilesStaged?(dir: string, files: Record<string, Uint8Array | string>): Promise<void>;
}

function _notFound(path: string, why = ""): Error {
  const e = new Error(`${path}: file not found${why}`);
  e.name = "NotFound";
  return e;
}

function _norm(path: string): string {
  return path.replace(/\/+/g, "/").replace(/^\.\//, "").replace(/\/$/, "");
}

/**
 * An in-memory {@link FileStore} (the default in a browser: writes last as long as the page). Every
 * method runs synchronously under its promise, so a {@link MemoryStore.rename} of a whole folder is atomic.
 */
export class MemoryStore implements FileStore {
  #files = new Map<string, Uint8Array>();

  /** The bytes of a file (a copy is not made). */
  readFile(path: string): Promise<Uint8Array> {
    const b = this.#files.get(_norm(path));
    if (!b) return Promise.reject(_notFound(path));
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

  /** Removes a file or a folder (every file under it). */
  remove(path: string): Promise<void> {
    const p = _norm(path);
    for (const k of [...this.#files.keys()]) if (k === p || k.startsWith(p + "/")) this.#files.delete(k);
    return Promise.resolve();
  }

  /** Moves a file or every file of a folder, in one synchronous step. */
  rename(from: string, to: string): Promise<void> {
    const [f, t] = [_norm(from), _norm(to)];
    const file = this.#files.get(f);
    if (file) {
      if ([...this.#files.keys()].some((k) => k.startsWith(t + "/"))) {
        return Promise.reject(new Error(`rename ${from} → ${to}: ${to} is a folder`));
      }
      this.#files.delete(f);
      this.#files.set(t, file);
      return Promise.resolve();
    }
    const moved = [...this.#files.keys()].filter((k) => k.startsWith(f + "/"));
    if (!moved.length) return Promise.reject(_notFound(from));
    if (this.#files.has(t) || [...this.#files.keys()].some((k) => k.startsWith(t + "/"))) {
      return Promise.reject(new Error(`rename ${from} → ${to}: ${to} exists`));
    }
    for (const k of moved) {
      this.#files.set(t + k.slice(f.length), this.#files.get(k)!);
      this.#files.delete(k);
    }
    return Promise.resolve();
  }

  /** Appends to a file (created when missing). */
  appendFile(path: string, data: Uint8Array): Promise<void> {
    const p = _norm(path);
    const old = this.#files.get(p) ?? new Uint8Array(0);
    const joined = new Uint8Array(old.length + data.length);
    joined.set(old);
    joined.set(data, old.length);
    this.#files.set(p, joined);
    return Promise.resolve();
  }
}

/**
 * A {@link FileStore} over the browser's Origin Private File System (`navigator.storage.getDirectory()`),
 * so written files outlive the page; folders are created on write. Each file write goes through
 * `createWritable()`, which writes a swap file that `close()` puts in place, so a file is never seen
 * half-written; {@link OpfsStore.rename} moves a file with `FileSystemFileHandle.move` where the browser
 * has it (Chromium: files only, no folders), else copies it and removes the source.
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

  // deno-lint-ignore no-explicit-any
  async #file(path: string): Promise<any> {
    const { dirs, name } = this.#split(path);
    try {
      return await (await this.#dir(dirs, false)).getFileHandle(name);
    } catch (e) {
      throw _notFound(path, ` (${(e as Error).message})`);
    }
  }

  /** The bytes of a file (a `NotFound` error when absent). */
  async readFile(path: string): Promise<Uint8Array> {
    const fh = await this.#file(path);
    return new Uint8Array(await (await fh.getFile()).arrayBuffer());
  }

  /** Creates or replaces a file (atomically: `createWritable` writes a swap file). */
  async writeFile(path: string, data: Uint8Array): Promise<void> {
    const { dirs, name } = this.#split(path);
    const fh = await (await this.#dir(dirs, true)).getFileHandle(name, { create: true });
    const w = await fh.createWritable();
    await w.write(data);
    await w.close();
  }

  /** Appends to a file (created when missing). */
  async appendFile(path: string, data: Uint8Array): Promise<void> {
    const { dirs, name } = this.#split(path);
    const fh = await (await this.#dir(dirs, true)).getFileHandle(name, { create: true });
    const size = (await fh.getFile()).size;
    const w = await fh.createWritable({ keepExistingData: true });
    await w.write({ type: "write", position: size, data });
    await w.close();
  }

  /** Whether a file exists. */
  async exists(path: string): Promise<boolean> {
    try {
      await this.#file(path);
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

  /** Removes a file or a folder with everything under it. */
  async remove(path: string): Promise<void> {
    const { dirs, name } = this.#split(path);
    try {
      await (await this.#dir(dirs, false)).removeEntry(name, { recursive: true });
    } catch (e) {
      if ((e as Error).name !== "NotFoundError") throw e;
    }
  }

  /** Moves a file, replacing a file at `to` (folders are not moved: Chromium's OPFS cannot). */
  async rename(from: string, to: string): Promise<void> {
    const fh = await this.#file(from);
    const { dirs, name } = this.#split(to);
    const parent = await this.#dir(dirs, true);
    if (typeof fh.move === "function") return await fh.move(parent, name);
    await this.writeFile(to, await this.readFile(from));
    await this.remove(from);
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
 * The bytes at a path or URL: `fetch` for http(s); a path from `store` when one is given; else
 * `Deno.readFile` where Deno exists (its errors unchanged), the {@link fileStore} otherwise.
 */
export function readFileBytes(location: string | URL, store?: FileStore): Promise<Uint8Array> {
  if (isHttpUrl(location)) return _fetchBytes(location instanceof URL ? location.href : location);
  if (hasDeno() && !store) return Deno.readFile(location);
  const s = location instanceof URL ? decodeURIComponent(location.pathname) : location;
  return (store ?? fileStore()).readFile(s);
}

/** The UTF-8 text at a path or URL (see {@link readFileBytes}). */
export async function readFileText(location: string | URL, store?: FileStore): Promise<string> {
  if (hasDeno() && !store && !isHttpUrl(location)) return await Deno.readTextFile(location);
  return new TextDecoder().decode(await readFileBytes(location, store));
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
