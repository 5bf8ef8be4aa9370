/**
 * Commits to a Hub repo with the Hub's own protocol, as `huggingface_hub`'s `create_commit` and
 * `upload_folder` do:
 *
 * 1. `POST /api/models/{repo}/preupload/{revision}` with each file's path, size and base64 512-byte
 *    sample; the answer gives `uploadMode` (`lfs` or `regular`), `shouldIgnore` and the remote `oid`.
 *    Files whose oid equals the local one (sha256 for LFS, git's blob sha1 otherwise) are left out; a
 *    commit left with nothing to do is skipped.
 * 2. `POST {endpoint}/{repo}.git/info/lfs/objects/batch` (operation `upload`, transfers `basic` and
 *    `multipart`, sha256 oids). Objects without `actions` are already stored. `basic`: one PUT of the file
 *    to `href`; `multipart` (a `chunk_size` in the header): a PUT of each part to its numbered URL, then a
 *    POST of the parts' ETags to `href`. Upload URLs get no Authorization header. Then `verify` if given.
 * 3. `POST /api/models/{repo}/commit/{revision}` as NDJSON: a `header` line (summary, description,
 *    parentCommit), `file` lines (base64), `lfsFile` lines (sha256 oid and size), `deletedFile` lines.
 *
 * Files are hashed and uploaded streaming (a 4 GB safetensors is never read into memory whole).
 * @module
 */
import { nodeCrypto, nodeFs, nodeHttp, nodeHttps } from "./node_lazy.ts";
import { Sha1 } from "./sha1.ts";
import { join } from "./path.ts";
import { HubError } from "./hub.ts";
import type { HubClient } from "./hub_api.ts";

/** Adds (or replaces) one file: from a local `path`, or from `content`. */
export interface CommitOperationAdd {
  /** Path of the file in the repo (`/`-separated, relative). */
  pathInRepo: string;
  /** Local file to upload. */
  path?: string;
  /** Bytes (or text) to upload instead of a file. */
  content?: Uint8Array | string;
}

/** Deletes one file (or a folder, when `pathInRepo` ends with `/`). */
export interface CommitOperationDelete {
  pathInRepo: string;
  delete: true;
}

/** One change of a commit. */
export type CommitOperation = CommitOperationAdd | CommitOperationDelete;

/** Options of {@link createCommit}. */
export interface CommitOptions {
  /** The commit's summary line. */
  commitMessage: string;
  commitDescription?: string;
  /** Branch to commit to (default `main`). */
  revision?: string;
  /** Commit the change must be based on: the Hub answers 412 (an error here) when the branch moved. */
  parentCommit?: string;
  /** Progress lines (hashing, uploads, the commit). */
  onProgress?: (message: string) => void;
}

/** What a commit did. */
export interface CommitInfo {
  repoId: string;
  /** The new commit's id (null when the commit was skipped). */
  commitOid: string | null;
  commitUrl: string | null;
  /** True when nothing changed, so no commit was made. */
  skipped: boolean;
  /** Paths added or replaced by the commit. */
  committed: string[];
  /** Paths left out because the remote file is identical. */
  unchanged: string[];
  /** Paths whose bytes were sent to LFS storage by this call. */
  lfsUploaded: string[];
  /** Paths deleted. */
  deleted: string[];
}

interface _Add {
  op: CommitOperationAdd;
  size: number;
  sha256: string;
  sample: Uint8Array;
  mode: "lfs" | "regular";
  remoteOid: string | null;
  ignore: boolean;
}

const _LFS_HEADERS = {
  accept: "application/vnd.git-lfs+json",
  "content-type": "application/vnd.git-lfs+json",
};

function _checkPath(p: string): void {
  const core = p.endsWith("/") ? p.slice(0, -1) : p;
  if (
    !core || core.startsWith("/") || core.includes("\\") || core.includes("\0") ||
    core.split("/").some((s) => s === "" || s === "." || s === "..") || core === ".git" ||
    core.startsWith(".git/")
  ) {
    throw new HubError(`invalid path in repo "${p}": expected a relative path without "." or ".." parts`);
  }
}

function _bytes(c: Uint8Array | string): Uint8Array {
  return typeof c === "string" ? new TextEncoder().encode(c) : c;
}

/** Size, sha256 and the first 512 bytes of an add, reading a file in 1 MiB chunks. */
async function _describe(op: CommitOperationAdd): Promise<Omit<_Add, "mode" | "remoteOid" | "ignore">> {
  const { createHash } = await nodeCrypto();
  if (op.content !== undefined) {
    const b = _bytes(op.content);
    return {
      op,
      size: b.length,
      sha256: createHash("sha256").update(b).digest("hex"),
      sample: b.slice(0, 512),
    };
  }
  if (!op.path) throw new HubError(`${op.pathInRepo}: give a local path or the content`);
  const h = createHash("sha256");
  let size = 0;
  let sample = new Uint8Array(0);
  let f: Deno.FsFile;
  try {
    f = await Deno.open(op.path);
  } catch (e) {
    throw new HubError(`cannot read ${op.path} (for ${op.pathInRepo}): ${(e as Error).message}`);
  }
  try {
    const buf = new Uint8Array(1 << 20);
    for (;;) {
      const n = await f.read(buf);
      if (n === null) break;
      const chunk = buf.subarray(0, n);
      if (sample.length < 512) {
        const s = new Uint8Array(Math.min(512, sample.length + n));
        s.set(sample);
        s.set(chunk.subarray(0, s.length - sample.length), sample.length);
        sample = s;
      }
      h.update(chunk);
      size += n;
    }
  } finally {
    f.close();
  }
  return { op, size, sha256: h.digest("hex"), sample };
}

async function _content(a: _Add): Promise<Uint8Array> {
  const b = a.op.content !== undefined ? _bytes(a.op.content) : await Deno.readFile(a.op.path!);
  if (b.length !== a.size) {
    throw new HubError(`${a.op.path ?? a.op.pathInRepo} changed while being uploaded; try again`);
  }
  return b;
}

/** git's blob id: sha1 of `blob <size>\0<bytes>` (what the Hub reports for regular files). */
export function gitBlobSha1(bytes: Uint8Array): string {
  return new Sha1().update(`blob ${bytes.length}\0`).update(bytes).hex();
}

function _b64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function _revPath(revision: string): string {
  return encodeURIComponent(revision);
}

/** PUT of `length` bytes of a file from `start` (or of `bytes`), streamed with a Content-Length. */
async function _putStream(
  url: string,
  source: { path: string; start: number; length: number } | Uint8Array,
): Promise<Response> {
  const u = new URL(url);
  const mod = u.protocol === "https:" ? await nodeHttps() : await nodeHttp();
  const { createReadStream } = await nodeFs();
  const length = source instanceof Uint8Array ? source.length : source.length;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, {
      method: "PUT",
      headers: { "content-length": String(length), "user-agent": "webgpu-ner" },
    }, (res) => {
      const chunks: Uint8Array[] = [];
      res.on("data", (d: Uint8Array) => chunks.push(d));
      res.on("error", reject);
      res.on("end", () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (typeof v === "string") headers.set(k, v);
          else if (Array.isArray(v)) headers.set(k, v.join(", "));
        }
        const status = res.statusCode ?? 500;
        const body = status === 204 || status === 304 ? null : new Blob(chunks as BlobPart[]);
        resolve(new Response(body, { status, headers }));
      });
    });
    req.on("error", reject);
    if (source instanceof Uint8Array) {
      req.end(source);
    } else if (length === 0) {
      req.end();
    } else {
      const rs = createReadStream(source.path, { start: source.start, end: source.start + length - 1 });
      rs.on("error", (e) => {
        req.destroy(e);
        reject(e);
      });
      rs.pipe(req);
    }
  });
}

function _putSource(a: _Add, start: number, length: number) {
  if (a.op.content !== undefined) return _bytes(a.op.content).subarray(start, start + length);
  return { path: a.op.path!, start, length };
}

/** Uploads one LFS object as the batch answer says (basic or multipart), then verifies it. */
async function _uploadObject(
  client: HubClient,
  repoId: string,
  a: _Add,
  // deno-lint-ignore no-explicit-any
  obj: any,
): Promise<void> {
  const upload = obj.actions?.upload;
  if (!upload || typeof upload.href !== "string") {
    throw new HubError(`LFS batch for ${repoId}: no upload action for ${a.op.pathInRepo}`);
  }
  const header: Record<string, string> = upload.header ?? {};
  const what = `upload of ${a.op.pathInRepo} to ${repoId}`;
  if (header.chunk_size !== undefined) {
    const chunk = Number(header.chunk_size);
    if (!Number.isInteger(chunk) || chunk <= 0) {
      throw new HubError(`${what}: the Hub sent chunk_size ${JSON.stringify(header.chunk_size)}`);
    }
    const parts = Object.entries(header).filter(([k]) => /^\d+$/.test(k))
      .sort((x, y) => Number(x[0]) - Number(y[0])).map(([, v]) => String(v));
    if (parts.length !== Math.ceil(a.size / chunk)) {
      throw new HubError(`${what}: the Hub sent ${parts.length} part URLs for ${a.size} bytes in ${chunk}`);
    }
    const etags: { partNumber: number; etag: string }[] = [];
    for (let i = 0; i < parts.length; i++) {
      const start = i * chunk, length = Math.min(chunk, a.size - start);
      const res = await client.request({
        method: "PUT",
        url: parts[i],
        auth: false,
        what: `${what} (part ${i + 1}/${parts.length})`,
        repoId,
        send: (url) => _putStream(url, _putSource(a, start, length)),
      });
      const etag = res.headers.get("etag");
      await res.body?.cancel();
      if (!etag) throw new HubError(`${what}: part ${i + 1} got no ETag from the storage server`);
      etags.push({ partNumber: i + 1, etag });
    }
    const done = await client.request({
      method: "POST",
      url: upload.href,
      auth: false,
      headers: _LFS_HEADERS,
      json: { oid: a.sha256, parts: etags },
      what: `${what} (completing the multipart upload)`,
      repoId,
    });
    await done.body?.cancel();
  } else {
    const res = await client.request({
      method: "PUT",
      url: upload.href,
      auth: false,
      what,
      repoId,
      send: (url) => _putStream(url, _putSource(a, 0, a.size)),
    });
    await res.body?.cancel();
  }
  const verify = obj.actions?.verify;
  if (verify && typeof verify.href === "string") {
    const res = await client.request({
      method: "POST",
      url: verify.href,
      headers: verify.header ?? {}, // JSON, with the token, as huggingface_hub sends it
      json: { oid: a.sha256, size: a.size },
      what: `${what} (verify)`,
      repoId,
    });
    await res.body?.cancel();
  }
}

async function _preupload(client: HubClient, repoId: string, revision: string, adds: _Add[]) {
  for (let i = 0; i < adds.length; i += 100) {
    const chunk = adds.slice(i, i + 100);
    const res = await client.request({
      method: "POST",
      url: `/api/models/${repoId}/preupload/${_revPath(revision)}`,
      json: {
        files: chunk.map((a) => ({ path: a.op.pathInRepo, sample: _b64(a.sample), size: a.size })),
      },
      what: `preupload to ${repoId}`,
      repoId,
    });
    const j = await res.json();
    if (!Array.isArray(j?.files)) {
      throw new HubError(`preupload to ${repoId}: the Hub answered without files`);
    }
    const byPath = new Map(chunk.map((a) => [a.op.pathInRepo, a]));
    for (const f of j.files) {
      const a = byPath.get(f?.path);
      if (!a || (f.uploadMode !== "lfs" && f.uploadMode !== "regular")) {
        throw new HubError(`preupload to ${repoId}: unexpected answer ${JSON.stringify(f).slice(0, 200)}`);
      }
      a.mode = f.uploadMode;
      a.ignore = f.shouldIgnore === true;
      a.remoteOid = typeof f.oid === "string" ? f.oid : null;
    }
  }
}

async function _lfsUpload(client: HubClient, repoId: string, revision: string, lfs: _Add[]) {
  const uploaded = new Set<string>();
  const byOid = new Map<string, _Add>();
  for (const a of lfs) if (!byOid.has(a.sha256)) byOid.set(a.sha256, a);
  const unique = [...byOid.values()];
  for (let i = 0; i < unique.length; i += 256) {
    const chunk = unique.slice(i, i + 256);
    const res = await client.request({
      method: "POST",
      url: `/${repoId}.git/info/lfs/objects/batch`,
      headers: _LFS_HEADERS,
      json: {
        operation: "upload",
        transfers: ["basic", "multipart"],
        objects: chunk.map((a) => ({ oid: a.sha256, size: a.size })),
        hash_algo: "sha256",
        ref: { name: revision },
      },
      what: `LFS batch for ${repoId}`,
      repoId,
    });
    const j = await res.json();
    if (!Array.isArray(j?.objects)) throw new HubError(`LFS batch for ${repoId}: no objects in the answer`);
    for (const obj of j.objects) {
      const a = byOid.get(obj?.oid);
      if (!a) throw new HubError(`LFS batch for ${repoId}: unknown object ${String(obj?.oid).slice(0, 64)}`);
      if (obj.error) {
        throw new HubError(
          `LFS batch for ${repoId}: ${a.op.pathInRepo}: ${obj.error.code} ${
            client.redact(obj.error.message)
          }`,
        );
      }
      if (!obj.actions) continue; // the Hub already stores these bytes
      await _uploadObject(client, repoId, a, obj);
      uploaded.add(a.sha256);
    }
  }
  return lfs.filter((a) => uploaded.has(a.sha256) && byOid.get(a.sha256) === a).map((a) => a.op.pathInRepo);
}

/**
 * Creates one commit on `repoId` with `operations` (see the module doc for the protocol). Unchanged
 * files are left out; when nothing is left, no commit is made and `skipped` is true.
 */
export async function createCommit(
  client: HubClient,
  repoId: string,
  operations: CommitOperation[],
  opts: CommitOptions,
): Promise<CommitInfo> {
  const revision = opts.revision ?? "main";
  const log = opts.onProgress ?? (() => {});
  const deletes: CommitOperationDelete[] = [];
  const adds: _Add[] = [];
  const seen = new Set<string>();
  for (const op of operations) {
    _checkPath(op.pathInRepo);
    if (seen.has(op.pathInRepo)) throw new HubError(`${op.pathInRepo} appears twice in one commit`);
    seen.add(op.pathInRepo);
    if ("delete" in op) deletes.push(op);
    else adds.push({ ...await _describe(op), mode: "regular", remoteOid: null, ignore: false });
  }
  if (adds.length) await _preupload(client, repoId, revision, adds);
  const unchanged: string[] = [];
  const todo: _Add[] = [];
  for (const a of adds) {
    if (a.ignore) continue;
    const local = a.mode === "lfs" ? a.sha256 : gitBlobSha1(await _content(a));
    if (a.remoteOid !== null && a.remoteOid === local) unchanged.push(a.op.pathInRepo);
    else todo.push(a);
  }
  const base: Omit<CommitInfo, "commitOid" | "commitUrl" | "skipped"> = {
    repoId,
    committed: todo.map((a) => a.op.pathInRepo),
    unchanged,
    lfsUploaded: [],
    deleted: deletes.map((d) => d.pathInRepo),
  };
  if (todo.length === 0 && deletes.length === 0) {
    log(`${repoId}: no files changed since the last commit; skipping the commit`);
    return { ...base, commitOid: null, commitUrl: null, skipped: true };
  }
  const lfs = todo.filter((a) => a.mode === "lfs");
  if (lfs.length) {
    log(`${repoId}: uploading ${lfs.length} LFS file(s) (${lfs.reduce((s, a) => s + a.size, 0)} bytes)`);
    base.lfsUploaded = await _lfsUpload(client, repoId, revision, lfs);
  }
  const header: Record<string, string> = {
    summary: opts.commitMessage,
    description: opts.commitDescription ?? "",
  };
  if (opts.parentCommit) header.parentCommit = opts.parentCommit;
  const regular = todo.filter((a) => a.mode === "regular");
  const contents = await Promise.all(regular.map(_content));
  const lines: string[] = [JSON.stringify({ key: "header", value: header })];
  regular.forEach((a, i) =>
    lines.push(JSON.stringify({
      key: "file",
      value: { content: _b64(contents[i]), path: a.op.pathInRepo, encoding: "base64" },
    }))
  );
  for (const a of lfs) {
    lines.push(JSON.stringify({
      key: "lfsFile",
      value: { path: a.op.pathInRepo, algo: "sha256", oid: a.sha256, size: a.size },
    }));
  }
  for (const d of deletes) {
    const folder = d.pathInRepo.endsWith("/");
    lines.push(
      JSON.stringify({ key: folder ? "deletedFolder" : "deletedFile", value: { path: d.pathInRepo } }),
    );
  }
  const body = lines.join("\n") + "\n";
  log(`${repoId}: committing ${todo.length + deletes.length} change(s): ${opts.commitMessage}`);
  const res = await client.request({
    method: "POST",
    url: `/api/models/${repoId}/commit/${_revPath(revision)}`,
    headers: { "content-type": "application/x-ndjson" },
    body: () => body,
    what: `commit to ${repoId}`,
    repoId,
  });
  const j = await res.json().catch(() => ({}));
  const commitOid = typeof j?.commitOid === "string" ? j.commitOid : null;
  const commitUrl = typeof j?.commitUrl === "string"
    ? j.commitUrl
    : commitOid
    ? `${client.repoUrl(repoId)}/commit/${commitOid}`
    : null;
  return { ...base, commitOid, commitUrl, skipped: false };
}

/** fnmatch-style glob (as `huggingface_hub` filters paths): `*` matches any run, `/` included. */
export function globToRegExp(glob: string): RegExp {
  let g = glob.endsWith("/") ? glob + "*" : glob;
  if (g.startsWith("./")) g = g.slice(2);
  let re = "";
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = g.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        let cls = g.slice(i + 1, end).replace(/\\/g, "\\\\");
        if (cls.startsWith("!")) cls = "^" + cls.slice(1);
        re += `[${cls}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s");
}

/** Options of {@link listFolder} and {@link uploadFolder}. */
export interface FolderFilter {
  /** Only paths matching one of these globs (relative to the folder). */
  include?: string[];
  /** Paths matching one of these globs are left out. */
  exclude?: string[];
}

/** Files below `folder` (relative `/` paths, sorted), without `.git/` and `.cache/huggingface/`, filtered. */
export async function listFolder(folder: string, filter: FolderFilter = {}): Promise<string[]> {
  const inc = (filter.include ?? []).map(globToRegExp);
  const exc = (filter.exclude ?? []).map(globToRegExp);
  const out: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        if (p === ".git" || p === ".cache/huggingface" || e.name.startsWith(".hub-staging")) continue;
        await walk(join(dir, e.name), p);
      } else if (e.isFile || e.isSymlink) {
        if (p.startsWith(".cache/huggingface/")) continue;
        if (inc.length && !inc.some((r) => r.test(p))) continue;
        if (exc.some((r) => r.test(p))) continue;
        out.push(p);
      }
    }
  };
  await walk(folder, "");
  return out.sort();
}

/** Options of {@link uploadFolder}. */
export interface UploadFolderOptions extends FolderFilter, Partial<CommitOptions> {
  /** Folder in the repo to upload into (default: the repo root). */
  pathInRepo?: string;
}

/**
 * Uploads the files of a local folder in one commit (default message `Upload folder using webgpu-ner`);
 * unchanged files are not sent again.
 */
export async function uploadFolder(
  client: HubClient,
  repoId: string,
  folder: string,
  opts: UploadFolderOptions = {},
): Promise<CommitInfo> {
  const prefix = (opts.pathInRepo ?? "").replace(/^\/+|\/+$/g, "");
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(folder);
  } catch {
    throw new HubError(`cannot upload ${folder}: no such file or folder`);
  }
  const files = st.isDirectory ? await listFolder(folder, opts) : [""];
  const ops: CommitOperationAdd[] = files.map((f) =>
    f
      ? { pathInRepo: prefix ? `${prefix}/${f}` : f, path: join(folder, f) }
      : { pathInRepo: prefix || folder.replace(/\/+$/, "").split("/").pop()!, path: folder } // one file
  );
  if (!ops.length) throw new HubError(`${folder}: no files to upload (check --include/--exclude)`);
  return await createCommit(client, repoId, ops, {
    commitMessage: opts.commitMessage ?? "Upload folder using webgpu-ner",
    commitDescription: opts.commitDescription,
    revision: opts.revision,
    parentCommit: opts.parentCommit,
    onProgress: opts.onProgress,
  });
}
