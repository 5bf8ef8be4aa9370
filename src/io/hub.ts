/**
 * Hugging Face Hub downloads through the standard cache, compatible with `huggingface_hub`:
 *
 * ```
 * <cache>/models--<org>--<name>/
 *   blobs/<etag>                 file contents, named by the Hub's ETag (sha256 for LFS files)
 *   blobs/<etag>.incomplete      an interrupted download, resumed with a Range request
 *   snapshots/<commit>/<file>    relative symlink to ../../blobs/<etag> (a copy where symlinks fail)
 *   refs/<revision>              the commit a branch or tag resolved to
 *   .no_exist/<commit>/<file>    an optional file the Hub answered 404 for
 * ```
 *
 * Environment (read through `opts.env`, default the process environment): `HF_HUB_CACHE`, `HF_HOME`,
 * `XDG_CACHE_HOME`, `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE`, `HF_HUB_ETAG_TIMEOUT` and
 * `HF_HUB_DOWNLOAD_TIMEOUT` (seconds, default 10, as in `huggingface_hub`).
 * @module
 */
import { basename, dirname, join, relative } from "./path.ts";
import { type FileStore, fileStore, hasDeno, isHttpUrl, resolveUrlFolder } from "./storage.ts";
import { isDenoStore } from "./deno_store.ts";
import { resolveStoreFolder } from "./store_files.ts";
import { writeFileAtomic } from "./atomic.ts";
import { getToken } from "./hub_token.ts";
import { hashFilePrefix, isSha256, type Sha256, sha256File } from "./sha256.ts";

/** Reads one environment variable. */
export type EnvGetter = (k: string) => string | undefined;

/** Download progress of one file: bytes on disk so far and the expected total (null when unknown). */
export interface DownloadProgress {
  /** The file being downloaded (as requested, e.g. `model.safetensors`). */
  file: string;
  /** Bytes of the file on disk so far (a resumed download starts above 0). */
  bytes: number;
  /** Expected size in bytes, or null when the server does not say. */
  total: number | null;
}

/** Options of {@link resolveModelFiles}. */
export interface ResolveOptions {
  /** Branch, tag or commit (default `main`). */
  revision?: string;
  /** Files that may be absent (a 404 from the Hub, or missing from a local folder) without error. */
  optional?: string[];
  /** Called as bytes arrive. */
  onProgress?: (p: DownloadProgress) => void;
  /** Environment lookup (default: the process environment). */
  env?: EnvGetter;
  /** fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
  /**
   * A store the folder is read from (e.g. a `MemoryStore` or `OpfsStore` a tab saved a model into);
   * http(s) URLs are still fetched. Without Deno, a folder found in the default store is used too.
   */
  store?: FileStore;
}

/** Where the files of a model are on disk. */
export interface ResolvedFiles {
  /** The local folder, or the cache snapshot folder `…/snapshots/<commit>`. */
  dir: string;
  /** Requested file → local path; optional files that do not exist are left out. */
  files: Record<string, string>;
}

/** A Hub, cache or model-folder failure with a message saying what to do. */
export class HubError extends Error {
  /** @param message what failed and how to fix it */
  constructor(message: string) {
    super(message);
    this.name = "HubError";
  }
}

function _processEnv(k: string): string | undefined {
  try {
    return Deno.env.get(k);
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

/** The process environment as an {@link EnvGetter} (a name --allow-env does not cover reads as unset). */
export const processEnv: EnvGetter = _processEnv;

/** The Hub's base URL: `HF_ENDPOINT` without trailing slashes, default `https://huggingface.co`. */
export function hubEndpoint(env: EnvGetter = _processEnv): string {
  return (env("HF_ENDPOINT") || "https://huggingface.co").replace(/\/+$/, "");
}

function _expandHome(p: string, env: EnvGetter): string {
  if (p === "~" || p.startsWith("~/")) {
    const home = env("HOME") ?? env("USERPROFILE");
    if (home) return join(home, p.slice(1));
  }
  return p;
}

/**
 * The Hub cache folder, as `huggingface_hub` computes it: `HF_HUB_CACHE` (or the legacy
 * `HUGGINGFACE_HUB_CACHE`), else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
 * `~/.cache/huggingface/hub`.
 */
export function hubCacheDir(env: EnvGetter = _processEnv): string {
  const direct = env("HF_HUB_CACHE") || env("HUGGINGFACE_HUB_CACHE");
  if (direct) return _expandHome(direct, env);
  const hfHome = env("HF_HOME");
  if (hfHome) return join(_expandHome(hfHome, env), "hub");
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return join(_expandHome(xdg, env), "huggingface", "hub");
  const home = env("HOME") ?? env("USERPROFILE");
  if (!home) throw new HubError("cannot locate the Hugging Face cache: set HF_HUB_CACHE or HF_HOME");
  return join(home, ".cache", "huggingface", "hub");
}

const _SEGMENT = "[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?";
const _ID_RE = new RegExp(`^(?:${_SEGMENT}/)?${_SEGMENT}$`);
const _COMMIT_RE = /^[0-9a-f]{40}$/;
const _SAFE_NAME_RE = /^[A-Za-z0-9._-]{1,200}$/;

/** Whether `id` is a valid Hub model id (`name` or `org/name`, the rules of `huggingface_hub`). */
export function isValidModelId(id: string): boolean {
  return _ID_RE.test(id) && !id.includes("--") && !id.includes("..") && !id.endsWith(".git");
}

function _isTrue(v: string | undefined): boolean {
  return ["1", "ON", "YES", "TRUE"].includes((v ?? "").trim().toUpperCase());
}

function _checkRelPath(what: string, p: string): void {
  if (
    !p || p.startsWith("/") || p.includes("\\") || p.includes("\0") ||
    p.split("/").some((s) => s === "" || s === "." || s === "..")
  ) {
    throw new HubError(`invalid ${what} "${p}": expected a relative path without "." or ".." parts`);
  }
}

async function _exists(path: string, kind: "file" | "dir"): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return kind === "file" ? st.isFile : st.isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw e;
  }
}

async function _resolveLocal(dir: string, wanted: string[], optional: Set<string>): Promise<ResolvedFiles> {
  const files: Record<string, string> = {};
  const missing: string[] = [];
  for (const f of wanted) {
    const p = join(dir, f);
    if (await _exists(p, "file")) files[f] = p;
    else if (!optional.has(f)) missing.push(f);
  }
  if (missing.length) {
    const have: string[] = [];
    for await (const e of Deno.readDir(dir)) have.push(e.isDirectory ? e.name + "/" : e.name);
    have.sort();
    const list = have.length ? have.slice(0, 50).join(", ") + (have.length > 50 ? ", …" : "") : "nothing";
    throw new HubError(`model folder ${dir} has no ${missing.join(", ")}; it contains: ${list}`);
  }
  return { dir, files };
}

/** Everything one resolution needs. */
interface _Ctx {
  id: string;
  revision: string;
  repoDir: string;
  endpoint: string;
  token: string | undefined;
  fetch: typeof fetch;
  onProgress?: (p: DownloadProgress) => void;
  headTimeoutMs: number;
  readTimeoutMs: number;
}

function _seconds(v: string | undefined, dflt: number): number {
  const n = Number(v);
  return v && Number.isFinite(n) && n > 0 ? n * 1000 : dflt * 1000;
}

function _stripEtag(raw: string | null): string | null {
  if (!raw) return null;
  return raw.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

function _intHeader(h: Headers, name: string): number | null {
  const v = h.get(name);
  if (v === null || !/^\d+$/.test(v.trim())) return null;
  return Number(v);
}

function _notFound(ctx: _Ctx, url: string): HubError {
  return new HubError(
    `repository or file not found: ${url} (HTTP 404). Check the model id "${ctx.id}", the revision ` +
      `"${ctx.revision}" and the file name.`,
  );
}

function _statusError(ctx: _Ctx, url: string, res: Response): HubError {
  if (res.status === 404) return _notFound(ctx, url);
  if (res.status === 401 || res.status === 403) {
    const tok = ctx.token
      ? "the token in HF_TOKEN was refused: check it has access (and that you accepted the model's terms)"
      : "set HF_TOKEN to a Hugging Face access token that can read it";
    return new HubError(
      `${url}: HTTP ${res.status}: the repository "${ctx.id}" may be private or gated, or may not exist; ${tok}`,
    );
  }
  return new HubError(`${url}: HTTP ${res.status} ${res.statusText}`);
}

async function _discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // already closed
  }
}

/** fetch with a timeout covering the wait for the response headers. */
async function _fetchHeaders(
  ctx: _Ctx,
  url: string,
  init: RequestInit,
  ac: AbortController,
): Promise<Response> {
  const timer = setTimeout(() => ac.abort(new Error("timed out")), ctx.headTimeoutMs);
  try {
    return await ctx.fetch(url, { ...init, signal: ac.signal });
  } catch (e) {
    throw new HubError(
      `cannot reach ${url}: ${(e as Error).message}. Check the network or HF_ENDPOINT, or set ` +
        "HF_HUB_OFFLINE=1 to use only the cache",
    );
  } finally {
    clearTimeout(timer);
  }
}

function _authHeaders(ctx: _Ctx, url: string): Record<string, string> {
  const h: Record<string, string> = { "user-agent": "webgpu-ner", "accept-encoding": "identity" };
  // The token goes only to the Hub itself, never to a CDN it redirects to.
  if (ctx.token && new URL(url).origin === new URL(ctx.endpoint).origin) {
    h.authorization = `Bearer ${ctx.token}`;
  }
  return h;
}

/** File metadata from a HEAD of the resolve URL (relative redirects followed, absolute ones not). */
interface _Meta {
  commit: string | null;
  etag: string | null;
  size: number | null;
  downloadUrl: string;
  status: number;
}

async function _head(ctx: _Ctx, url: string): Promise<_Meta> {
  let current = url;
  for (let hop = 0; hop < 5; hop++) {
    const res = await _fetchHeaders(
      ctx,
      current,
      { method: "HEAD", redirect: "manual", headers: _authHeaders(ctx, current) },
      new AbortController(),
    );
    await _discard(res);
    const loc = res.headers.get("location");
    const redirect = res.status >= 300 && res.status < 400 && loc !== null;
    if (redirect && !/^[a-z][a-z0-9+.-]*:/i.test(loc)) { // relative: a renamed repo, follow it
      current = new URL(loc, current).href;
      continue;
    }
    if (!redirect && !res.ok) {
      if (res.status === 404) {
        return {
          commit: res.headers.get("x-repo-commit"),
          etag: null,
          size: null,
          downloadUrl: url,
          status: 404,
        };
      }
      throw _statusError(ctx, current, res);
    }
    return {
      commit: res.headers.get("x-repo-commit"),
      etag: _stripEtag(res.headers.get("x-linked-etag") ?? res.headers.get("etag")),
      size: _intHeader(res.headers, "x-linked-size") ??
        (redirect ? null : _intHeader(res.headers, "content-length")),
      downloadUrl: redirect ? new URL(loc!, current).href : current,
      status: res.status,
    };
  }
  throw new HubError(`${url}: too many redirects`);
}

async function _fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

/** Downloads `url` into `blob` through `blob.incomplete`, resuming a previous partial download. */
async function _downloadBlob(ctx: _Ctx, file: string, url: string, blob: string, size: number | null) {
  const part = `${blob}.incomplete`;
  const expected = basename(blob); // the ETag: a sha256 for LFS files, checked while the bytes arrive
  let hasher: Sha256 | null = null;
  let have = await _fileSize(part);
  if (size !== null && have > size) have = 0;
  for (let attempt = 0;; attempt++) {
    if (attempt > 2) throw new HubError(`${url}: the server keeps refusing the download range`);
    if (size !== null && have === size) break; // complete, but the rename never happened
    const headers = _authHeaders(ctx, url);
    if (have > 0) headers.range = `bytes=${have}-`;
    const ac = new AbortController();
    const res = await _fetchHeaders(ctx, url, { headers }, ac);
    if (res.status === 416) {
      await _discard(res);
      have = 0;
      continue;
    }
    if (!res.ok) {
      await _discard(res);
      throw _statusError(ctx, url, res);
    }
    let total: number | null;
    if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
      if (!m || Number(m[1]) !== have) { // not the range asked for: start over
        await _discard(res);
        have = 0;
        continue;
      }
      total = m[3] === "*" ? size : Number(m[3]);
    } else {
      have = 0; // 200: the whole file again
      const len = _intHeader(res.headers, "content-length");
      total = len ?? size;
    }
    if (size !== null && total !== null && total !== size) {
      await _discard(res);
      throw new HubError(`${url}: the server sends ${total} bytes but announced ${size}`);
    }
    hasher = isSha256(expected) ? await hashFilePrefix(part, have) : null;
    await _receive(ctx, file, url, res, part, have, total, ac, hasher);
    have = await _fileSize(part);
    if (total !== null && have !== total) {
      if (have > total) await Deno.remove(part);
      throw new HubError(`${url}: downloaded ${have} bytes, expected ${total}`);
    }
    break;
  }
  if (isSha256(expected)) {
    const got = (hasher ?? await hashFilePrefix(part, Infinity)).hex();
    if (got !== expected) {
      await Deno.remove(part);
      throw new HubError(
        `${url}: the downloaded ${file} has sha256 ${got}, not the ETag's ${expected}; ` +
          "the corrupt download was deleted (retry, or check HF_ENDPOINT)",
      );
    }
  }
  await Deno.rename(part, blob);
}

/** Whether a cached blob named by a sha256 ETag still has that hash (deleted when it does not). */
async function _cachedBlobOk(blob: string): Promise<boolean> {
  const expected = basename(blob);
  if (!isSha256(expected) || (await sha256File(blob)) === expected) return true;
  await Deno.remove(blob);
  return false;
}

/** Streams a response body onto the end of `part` (truncating it first when `have` is 0). */
async function _receive(
  ctx: _Ctx,
  file: string,
  url: string,
  res: Response,
  part: string,
  have: number,
  total: number | null,
  ac: AbortController,
  hasher: Sha256 | null = null,
): Promise<void> {
  const f = await Deno.open(part, { write: true, create: true, truncate: have === 0, append: have > 0 });
  let bytes = have;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(new Error("read timed out")), ctx.readTimeoutMs);
  };
  try {
    ctx.onProgress?.({ file, bytes, total });
    if (res.body) {
      arm();
      try {
        for await (const chunk of res.body) {
          arm();
          let off = 0;
          while (off < chunk.length) off += await f.write(chunk.subarray(off));
          hasher?.update(chunk);
          bytes += chunk.length;
          ctx.onProgress?.({ file, bytes, total });
        }
      } catch (e) {
        const of = total === null ? "" : ` of ${total}`;
        throw new HubError(
          `download of ${file} from ${url} was interrupted after ${bytes}${of} bytes ` +
            `(${(e as Error).message}); the partial file ${part} is kept and the next call resumes it`,
        );
      }
    }
    await f.sync();
  } finally {
    clearTimeout(timer);
    f.close();
  }
}

/** Points `snapshots/<commit>/<file>` at `blobs/<etag>`: a relative symlink, or a copy where that fails. */
async function _link(repoDir: string, commit: string, file: string, etag: string): Promise<string> {
  const snap = join(repoDir, "snapshots", commit, file);
  const blob = join(repoDir, "blobs", etag);
  await Deno.mkdir(dirname(snap), { recursive: true });
  try {
    await Deno.remove(snap);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  try {
    await Deno.symlink(relative(dirname(snap), blob), snap);
  } catch {
    await Deno.copyFile(blob, snap);
  }
  return snap;
}

function _checkServerName(url: string, what: string, v: string | null): string {
  if (v === null || !_SAFE_NAME_RE.test(v) || v === "." || v === "..") {
    throw new HubError(
      `${url}: the server sent no usable ${what} (${v === null ? "missing" : JSON.stringify(v)}); ` +
        "is HF_ENDPOINT a Hugging Face Hub?",
    );
  }
  return v;
}

/**
 * Fetches one file into the cache. Returns its commit and snapshot path, or a null path when an
 * optional file does not exist.
 */
async function _fetchFile(ctx: _Ctx, file: string, optional: boolean) {
  const rev = encodeURIComponent(ctx.revision);
  const url = `${ctx.endpoint}/${ctx.id}/resolve/${rev}/${file.split("/").map(encodeURIComponent).join("/")}`;
  const meta = await _head(ctx, url);
  if (meta.status === 404) {
    if (!optional) throw _notFound(ctx, url);
    const commit = meta.commit !== null && _SAFE_NAME_RE.test(meta.commit) ? meta.commit : null;
    if (commit) {
      const marker = join(ctx.repoDir, ".no_exist", commit, file);
      await Deno.mkdir(dirname(marker), { recursive: true });
      await Deno.writeFile(marker, new Uint8Array());
    }
    return { commit, path: null };
  }
  const commit = _checkServerName(url, "X-Repo-Commit header", meta.commit);
  const etag = _checkServerName(url, "ETag", meta.etag);
  const blob = join(ctx.repoDir, "blobs", etag);
  // A cached LFS blob is re-verified against its sha256 name; a corrupt one is downloaded again.
  if (!(await _exists(blob, "file")) || !(await _cachedBlobOk(blob))) {
    await Deno.mkdir(dirname(blob), { recursive: true });
    await _downloadBlob(ctx, file, meta.downloadUrl, blob, meta.size);
  }
  return { commit, path: await _link(ctx.repoDir, commit, file, etag) };
}

async function _readRef(repoDir: string, revision: string): Promise<string | null> {
  if (_COMMIT_RE.test(revision)) return revision;
  try {
    const c = (await Deno.readTextFile(join(repoDir, "refs", revision))).trim();
    return _SAFE_NAME_RE.test(c) && c !== "." && c !== ".." ? c : null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw e;
  }
}

/** Files of `wanted` present in the snapshot of `commit`, and those still to fetch. */
async function _scan(repoDir: string, commit: string | null, wanted: string[], optional: Set<string>) {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const f of wanted) {
    if (commit === null) {
      missing.push(f);
      continue;
    }
    const p = join(repoDir, "snapshots", commit, f);
    if (await _exists(p, "file")) found[f] = p;
    else if (!(optional.has(f) && await _exists(join(repoDir, ".no_exist", commit, f), "file"))) {
      missing.push(f);
    }
  }
  return { found, missing };
}

/**
 * Resolves model files to local paths. `idOrDir` is an existing local folder (used as is: a missing
 * required file is an error listing what the folder holds) or a Hub model id (`name` or `org/name`).
 * For an id, files already in the cache snapshot of the revision are used without any request; others
 * are downloaded from `{HF_ENDPOINT or https://huggingface.co}/{id}/resolve/{revision}/{file}` (with
 * `HF_TOKEN` as a bearer token) into the cache, resuming interrupted downloads. With `HF_HUB_OFFLINE=1`
 * only the cache is used. `files` and `opts.optional` are both fetched; only the latter may be missing.
 */
export async function resolveModelFiles(
  idOrDir: string,
  files: string[],
  opts: ResolveOptions = {},
): Promise<ResolvedFiles> {
  const optional = new Set(opts.optional ?? []);
  const wanted = [...new Set([...files, ...optional])];
  if (wanted.length === 0) throw new HubError("resolveModelFiles: no files requested");
  for (const f of wanted) _checkRelPath("file name", f);
  if (isHttpUrl(idOrDir)) return resolveUrlFolder(idOrDir, wanted, optional, opts.fetch);
  if (opts.store && !isDenoStore(opts.store)) {
    return resolveStoreFolder(opts.store, idOrDir, wanted, optional);
  }
  if (!hasDeno() && (!isValidModelId(idOrDir) || (await fileStore().list(idOrDir)).length > 0)) {
    // A browser: a folder of the default store (as HF prefers a local folder over a Hub id).
    return resolveStoreFolder(fileStore(), idOrDir, wanted, optional);
  }
  if (!hasDeno()) {
    // A browser: the Hub's resolve URLs, cached by the browser's HTTP cache instead of the HF cache folder.
    const base = `${hubEndpoint(opts.env ?? _processEnv)}/${idOrDir}/resolve/${
      encodeURIComponent(opts.revision ?? "main")
    }/`;
    return resolveUrlFolder(base, wanted, optional, opts.fetch);
  }
  if (await _exists(idOrDir, "dir")) return _resolveLocal(idOrDir, wanted, optional);
  if (!isValidModelId(idOrDir)) {
    throw new HubError(
      `"${idOrDir}" is neither a local folder nor a valid Hub model id ("name" or "org/name": letters, ` +
        `digits, "-", "_", "." and at most 96 characters per part)`,
    );
  }
  const env = opts.env ?? _processEnv;
  const revision = opts.revision ?? "main";
  _checkRelPath("revision", revision);
  const repoDir = join(hubCacheDir(env), `models--${idOrDir.replaceAll("/", "--")}`);
  const ctx: _Ctx = {
    id: idOrDir,
    revision,
    repoDir,
    endpoint: hubEndpoint(env),
    token: getToken(env), // HF_TOKEN, HUGGING_FACE_HUB_TOKEN, then the token file of `deno task login`
    fetch: opts.fetch ?? fetch,
    onProgress: opts.onProgress,
    headTimeoutMs: _seconds(env("HF_HUB_ETAG_TIMEOUT"), 10),
    readTimeoutMs: _seconds(env("HF_HUB_DOWNLOAD_TIMEOUT"), 10),
  };
  const offline = _isTrue(env("HF_HUB_OFFLINE"));
  let commit = await _readRef(repoDir, revision);
  // Each pass fetches what the snapshot of `commit` lacks; a branch that moves meanwhile gives a new
  // commit, and the next pass fills that snapshot (unchanged blobs are linked, not downloaded again).
  for (let pass = 0; pass < 4; pass++) {
    const { found, missing } = await _scan(repoDir, commit, wanted, optional);
    if (missing.length === 0) {
      return { dir: join(repoDir, "snapshots", commit!), files: found };
    }
    if (offline) {
      const required = missing.filter((f) => !optional.has(f));
      if (commit !== null && required.length === 0) {
        return { dir: join(repoDir, "snapshots", commit), files: found };
      }
      throw new HubError(
        `HF_HUB_OFFLINE is set and ${idOrDir} (revision ${revision}) is not in the cache ${repoDir}: missing ` +
          `${
            (required.length ? required : missing).join(", ")
          }. Either unset HF_HUB_OFFLINE so the files are ` +
          `downloaded from ${ctx.endpoint} into the cache, or pass the path of a local folder that holds them.`,
      );
    }
    const before = commit;
    for (const f of missing) {
      const got = await _fetchFile(ctx, f, optional.has(f));
      if (got.commit !== null && got.commit !== commit) {
        commit = got.commit;
        if (!_COMMIT_RE.test(revision)) {
          await Deno.mkdir(dirname(join(repoDir, "refs", revision)), { recursive: true });
          await writeFileAtomic(join(repoDir, "refs", revision), commit);
        }
        if (before !== null) break; // the revision moved: rescan against the new commit
      }
    }
    if (commit === null) {
      // only optional files were asked for and none exists
      throw new HubError(`${ctx.endpoint}/${idOrDir}: the Hub did not say which commit "${revision}" is`);
    }
  }
  throw new HubError(`${idOrDir}: revision "${revision}" kept moving while downloading; try again`);
}
