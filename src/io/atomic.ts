/**
 * Crash-safe writes: a file or a whole folder is written under a temporary name, flushed to disk and
 * renamed over the target, so a reader (or a process restarted after a crash) sees either the old
 * complete content or the new complete content, never a partial one.
 * @module
 */
import { basename, dirname, isAbsolute, join, normalize, resolve } from "./path.ts";

function _random(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function _bytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}

/** Removes `path` (recursively), ignoring a missing path and any failure: cleanup must not mask errors. */
async function _removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch {
    // already gone, or nothing more we can do
  }
}

/**
 * fsyncs a directory so a rename inside it is durable. Where directories cannot be opened or synced
 * (EINVAL/ENOTSUP on some filesystems, Windows), this is skipped: the rename itself is still atomic.
 */
export async function syncDir(dir: string): Promise<void> {
  let f: Deno.FsFile | undefined;
  try {
    f = await Deno.open(dir, { read: true });
    await f.sync();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw e;
    // unsupported for directories here
  } finally {
    f?.close();
  }
}

/** Writes `data` to a new file at `path` and fsyncs it (fails if `path` exists). */
async function _writeSynced(path: string, data: Uint8Array): Promise<void> {
  const f = await Deno.open(path, { write: true, createNew: true });
  try {
    let off = 0;
    while (off < data.length) off += await f.write(data.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
}

/**
 * Writes `data` (bytes, or a string as UTF-8) to `path` atomically: into `.<name>.tmp-<random>` in the
 * same directory, fsync, rename over `path`, then fsync the directory where supported. On failure the
 * temporary file is removed and `path` keeps its previous content. A crash (SIGKILL, power loss) may leave
 * a stray `.<name>.tmp-*` file behind, never a truncated `path`.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${_random()}`);
  try {
    await _writeSynced(tmp, _bytes(data));
    await Deno.rename(tmp, path);
  } catch (e) {
    await _removeQuietly(tmp);
    throw e;
  }
  await syncDir(dir);
}

function _checkRelative(name: string): string {
  const norm = normalize(name);
  if (!name || isAbsolute(name) || norm.split(/[\\/]/).includes("..") || norm === ".") {
    throw new Error(`writeDirAtomic: "${name}" is not a relative file path inside the folder`);
  }
  return norm;
}

/**
 * Writes a whole folder atomically: every file of `files` (relative paths → content; subfolders are
 * created) goes into `<dir>.tmp-<random>`, each fsynced, then that folder is renamed to `dir`. An existing
 * `dir` is first renamed to `<dir>.old-<random>` and removed once the new one is in place, so `dir` is
 * never a half-written folder (a crash between the two renames leaves both complete folders under their
 * temporary names and no `dir`). On failure the temporary folder is removed and the old `dir` restored.
 */
export async function writeDirAtomic(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  const target = resolve(dir);
  const parent = dirname(target);
  const names = Object.keys(files).map((n) => [n, _checkRelative(n)] as const);
  const tmp = `${target}.tmp-${_random()}`;
  let aside: string | null = null;
  try {
    await Deno.mkdir(parent, { recursive: true });
    await Deno.mkdir(tmp);
    const made = new Set<string>([tmp]);
    for (const [name, rel] of names) {
      const path = join(tmp, rel);
      const sub = dirname(path);
      if (!made.has(sub)) {
        await Deno.mkdir(sub, { recursive: true });
        made.add(sub);
      }
      await _writeSynced(path, _bytes(files[name]));
    }
    for (const d of [...made].sort((a, b) => b.length - a.length)) await syncDir(d);
    try {
      const st = await Deno.lstat(target);
      if (!st.isDirectory) throw new Error(`writeDirAtomic: ${target} exists and is not a folder`);
      aside = `${target}.old-${_random()}`;
      await Deno.rename(target, aside);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await Deno.rename(tmp, target);
  } catch (e) {
    await _removeQuietly(tmp);
    if (aside) {
      try {
        await Deno.rename(aside, target);
      } catch {
        // leave the old folder under its temporary name rather than lose it
      }
    }
    throw e;
  }
  await syncDir(parent);
  if (aside) await _removeQuietly(aside);
}
