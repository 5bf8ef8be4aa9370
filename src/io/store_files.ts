/**
 * Folder-level work on any {@link FileStore}: crash-safe folder writes, appends, recursive listings and
 * resolving a model folder, for the Trainer's checkpoints and logs and for `savePretrained` into memory
 * or the Origin Private File System.
 *
 * Crash safety where the store has no write of its own (`DenoFileStore` keeps `writeDirAtomic` and
 * `writeFilesStaged`): every file is first written under a staging folder (`<dir>.tmp-<id>/` for a whole
 * folder, `<dir>/.staged.tmp-<id>/` for files into a folder); then a commit record `<stage>.commit`
 * (the target and its file list, one small file write) decides the write; then each file is renamed into
 * place (a metadata move, no copy) and, for a whole folder, files of the old folder not in the new set are
 * removed; last the stage and the record are removed. A page closed while staging leaves only a `*.tmp-*`
 * entry, which {@link recoverCommits} deletes; closed after the record, {@link recoverCommits} finishes
 * the moves (roll forward), so the target ends up wholly old or wholly new. This relies on single-file
 * writes and renames being atomic: true of {@link MemoryStore} (synchronous) and of {@link OpfsStore}
 * (`createWritable` swap files, `FileSystemFileHandle.move`); Chromium's OPFS cannot rename folders, hence
 * the per-file moves. Readers see a half-moved folder only until the next {@link recoverCommits}.
 * @module
 */
import { type FileStore, MemoryStore, OpfsStore } from "./storage.ts";

/** The commit record of a staged write (`<stage>.commit`). */
interface _Commit {
  /** The folder the files go into. */
  target: string;
  /** Relative paths of the new files. */
  files: string[];
  /** True: the whole folder is replaced (files not in `files` are removed). */
  replace: boolean;
}

const _STAGE = /\.tmp-[0-9a-z]+$/;
const _RECORD = /^(.+\.tmp-[0-9a-z]+)\.commit$/;

function _trim(path: string): string {
  return path.replace(/\/+/g, "/").replace(/\/$/, "");
}

function _bytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}

function _id(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 12);
}

function _isNotFound(e: unknown): boolean {
  return (e as Error)?.name === "NotFound" || (e as Error)?.name === "NotFoundError";
}

function _relative(name: string, flat: boolean): string {
  const parts = name.split("/");
  const bad = !name || name.startsWith("/") || parts.some((p) => p === "" || p === "." || p === "..") ||
    (flat && (parts.length > 1 || name.startsWith(".")));
  if (bad) throw new RangeError(`store write: bad file name '${name}'`);
  return name;
}

/** Relative paths of every file under `dir` (recursively), sorted. */
export async function listFiles(store: FileStore, dir: string): Promise<string[]> {
  const d = _trim(dir);
  const out: string[] = [];
  for (const name of await store.list(d)) {
    const path = `${d}/${name}`;
    if (await store.exists(path)) out.push(name);
    else for (const sub of await listFiles(store, path)) out.push(`${name}/${sub}`);
  }
  return out.sort();
}

async function _rollForward(store: FileStore, stage: string, c: _Commit): Promise<void> {
  for (const rel of c.files) {
    try {
      await store.rename(`${stage}/${rel}`, `${c.target}/${rel}`);
    } catch (e) {
      if (!_isNotFound(e)) throw e; // moved already (a commit finished by recovery)
    }
  }
  if (c.replace) {
    const keep = new Set(c.files);
    for (const rel of await listFiles(store, c.target)) {
      if (!keep.has(rel)) await store.remove(`${c.target}/${rel}`);
    }
  }
  await store.remove(stage);
  await store.remove(`${stage}.commit`);
}

async function _stageAndCommit(
  store: FileStore,
  stage: string,
  commit: _Commit,
  files: Record<string, Uint8Array | string>,
): Promise<void> {
  try {
    for (const [name, data] of Object.entries(files)) await store.writeFile(`${stage}/${name}`, _bytes(data));
  } catch (e) {
    await store.remove(stage).catch(() => {});
    throw e;
  }
  await store.writeFile(`${stage}.commit`, _bytes(JSON.stringify(commit))); // the write is decided here
  await _rollForward(store, stage, commit);
}

/**
 * Writes a whole folder (relative paths → content; an existing folder is replaced) so that it is never
 * seen half-written: the store's own `writeDirAtomic` where it has one (Deno: `writeDirAtomic`), else
 * staged and committed as the module doc says.
 */
export async function writeDirCommitted(
  store: FileStore,
  dir: string,
  files: Record<string, Uint8Array | string>,
): Promise<void> {
  if (store.writeDirAtomic) return await store.writeDirAtomic(dir, files);
  const target = _trim(dir);
  const names = Object.keys(files).map((n) => _relative(n, false));
  await _stageAndCommit(store, `${target}.tmp-${_id()}`, { target, files: names, replace: true }, files);
}

/**
 * Writes files (names without folders) into a folder that holds other things, all or nothing: the
 * store's own `writeFilesStaged` where it has one (Deno: `writeFilesStaged`), else staged in
 * `<dir>/.staged.tmp-<id>/` and committed as the module doc says; other files of `dir` are left alone.
 */
export async function writeFilesCommitted(
  store: FileStore,
  dir: string,
  files: Record<string, Uint8Array | string>,
): Promise<void> {
  if (store.writeFilesStaged) return await store.writeFilesStaged(dir, files);
  const target = _trim(dir);
  const names = Object.keys(files).map((n) => _relative(n, true));
  await _stageAndCommit(
    store,
    `${target}/.staged.tmp-${_id()}`,
    { target, files: names, replace: false },
    files,
  );
}

/**
 * Finishes or discards what an interrupted staged write left in `dir`: a stage with a commit record is
 * rolled forward into its target, a stage without one (never decided) is removed. With `target`, only
 * records for that folder are rolled forward and nothing else is removed (safe beside other writers).
 * Returns the entries handled. A no-op for stores with their own crash-safe writes (Deno: see
 * `removeStaleTemps` of the training CLI).
 */
export async function recoverCommits(
  store: FileStore,
  dir: string,
  opts: { target?: string } = {},
): Promise<string[]> {
  if (store.writeDirAtomic) return [];
  const d = _trim(dir);
  const names = await store.list(d);
  const handled: string[] = [];
  const decided = new Set<string>();
  for (const name of names) {
    const m = _RECORD.exec(name);
    if (!m) continue;
    let c: _Commit | null = null;
    try {
      c = JSON.parse(new TextDecoder().decode(await store.readFile(`${d}/${name}`)));
    } catch { /* an unreadable record: the write was not decided */ }
    const ok = c && typeof c.target === "string" && Array.isArray(c.files) && typeof c.replace === "boolean";
    if (opts.target !== undefined && (!ok || _trim(c!.target) !== _trim(opts.target))) continue;
    decided.add(m[1]);
    if (ok) await _rollForward(store, `${d}/${m[1]}`, c!);
    else await Promise.all([store.remove(`${d}/${m[1]}`), store.remove(`${d}/${name}`)]);
    handled.push(name);
  }
  if (opts.target !== undefined) return handled;
  for (const name of names) {
    if (_STAGE.test(name) && !decided.has(name)) {
      await store.remove(`${d}/${name}`);
      handled.push(name);
    }
  }
  return handled;
}

/** Appends UTF-8 text to a file: the store's `appendFile`, else a read and a rewrite. */
export async function appendText(store: FileStore, path: string, text: string): Promise<void> {
  const data = _bytes(text);
  if (store.appendFile) return await store.appendFile(path, data);
  let old: Uint8Array = new Uint8Array(0);
  try {
    old = await store.readFile(path);
  } catch (e) {
    if (!_isNotFound(e)) throw e;
  }
  const joined = new Uint8Array(old.length + data.length);
  joined.set(old);
  joined.set(data, old.length);
  await store.writeFile(path, joined);
}

/**
 * The files of a model folder held in a store (as `resolveUrlFolder` does for URLs): each wanted file's
 * store path, optional ones left out when absent; a missing required file is an error listing what the
 * folder holds. An interrupted commit into the folder is finished first ({@link recoverCommits}).
 */
export async function resolveStoreFolder(
  store: FileStore,
  dir: string,
  wanted: string[],
  optional: Set<string>,
): Promise<{ dir: string; files: Record<string, string> }> {
  const d = _trim(dir);
  const parent = d.includes("/") ? d.slice(0, d.lastIndexOf("/")) : "";
  await recoverCommits(store, d, { target: d });
  await recoverCommits(store, parent, { target: d });
  const files: Record<string, string> = {};
  for (const f of wanted) if (await store.exists(`${d}/${f}`)) files[f] = `${d}/${f}`;
  const missing = wanted.filter((f) => !optional.has(f) && !files[f]);
  if (missing.length) {
    const held = await store.list(d);
    throw new Error(
      `${d}: missing ${missing.join(", ")} in the ${_storeName(store)} (the folder holds ${
        held.length ? held.join(", ") : "nothing"
      })`,
    );
  }
  return { dir: d, files };
}

function _storeName(store: FileStore): string {
  if (store instanceof MemoryStore) return "MemoryStore";
  if (store instanceof OpfsStore) return "OpfsStore";
  return "file store";
}
