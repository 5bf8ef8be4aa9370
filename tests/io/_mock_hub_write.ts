/**
 * A mock Hugging Face Hub on 127.0.0.1 for the write side, checking what the real Hub checks:
 *
 * - `GET /api/whoami-v2`, `POST /api/repos/create` (409 with the repo `url` when it exists),
 *   `POST /api/models/{repo}/preupload/{rev}`, `POST /{repo}.git/info/lfs/objects/batch`,
 *   `POST /api/models/{repo}/commit/{rev}` and the LFS verify URL all need `Authorization: Bearer <token>`
 *   of a known user (401 otherwise; 403 when the namespace is not the user's or one of its orgs).
 * - Upload URLs (basic PUT, multipart part PUTs and the completion POST) refuse an Authorization header.
 * - Uploaded bytes must match the object's sha256 and size; multipart parts are joined in order and the
 *   completion must list every part's ETag.
 * - Commits must be `application/x-ndjson`, one JSON object per line, a `header` line first; `lfsFile`
 *   lines need a 64-hex sha256 oid and a size of an object already uploaded; a stale `parentCommit` is 412.
 * - Files are served back on `/{repo}/resolve/{rev}/{path}` (LFS ones through a 302 to `/lfs-cdn/`), so the
 *   download client can read what was pushed.
 * - Faults: `faults` (status, optional Retry-After, how many times, which paths) and `delayMs` per reply.
 * @module
 */
import { createHash } from "node:crypto";

/** A file in a mock repo. */
export interface MockFile {
  bytes: Uint8Array;
  lfs: boolean;
  sha256: string;
}

/** One commit of a mock repo. */
export interface MockCommit {
  oid: string;
  parent: string | null;
  summary: string;
  description: string;
  /** The paths this commit added, changed or deleted. */
  changed: string[];
}

/** One branch: its files and commits. */
export interface MockBranch {
  files: Map<string, MockFile>;
  commits: MockCommit[];
}

/** A repo of the mock: its `main` branch, other branches in `branches`. */
export interface MockWriteRepo extends MockBranch {
  private: boolean;
  branches?: Map<string, MockBranch>;
}

/** A request the mock saw. */
export interface SeenWrite {
  method: string;
  path: string;
  auth: string | null;
  contentType: string | null;
  status: number;
}

/** A fault to inject: answer `status` (with `retryAfter` seconds) `times` times to paths matching `path`. */
export interface Fault {
  status: number;
  times: number;
  path?: RegExp;
  retryAfter?: string;
}

/** Options of {@link MockHubWrite.start}. */
export interface MockHubWriteOptions {
  /** token → user name. */
  tokens?: Record<string, string>;
  /** user → organizations it may write to. */
  orgs?: Record<string, string[]>;
  /** Objects larger than this go `multipart` with parts of this size (default: always `basic`). */
  multipartChunk?: number;
}

const _sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const _gitSha1 = (b: Uint8Array) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");

function _json(v: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(v), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function _error(status: number, message: string, code?: string): Response {
  return _json({ error: message }, status, code ? { "x-error-code": code } : {});
}

function _fromB64(s: string): Uint8Array {
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** The running mock. Always `close()` it. */
export class MockHubWrite {
  readonly repos = new Map<string, MockWriteRepo>();
  readonly requests: SeenWrite[] = [];
  /** Faults still to inject, consumed in order. */
  faults: Fault[] = [];
  /** Delay before every reply, in ms. */
  delayMs = 0;
  /** Origin of the LFS upload URLs it hands out (default its own; another host tests net permissions). */
  uploadOrigin: string | null = null;
  /** sha256 → bytes of every LFS object stored. */
  readonly objects = new Map<string, Uint8Array>();
  /** Number of LFS objects whose bytes were received (basic or multipart). */
  lfsReceived = 0;
  readonly url: string;
  readonly tokens: Record<string, string>;
  readonly #orgs: Record<string, string[]>;
  readonly #chunk: number | undefined;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #ac = new AbortController();
  readonly #parts = new Map<string, Map<number, Uint8Array>>(); // oid → part number → bytes
  #inFlight = 0;
  /** Largest number of commit requests being handled at once. */
  maxConcurrentCommits = 0;

  private constructor(opts: MockHubWriteOptions) {
    this.tokens = opts.tokens ?? { "hf_write_token": "alice" };
    this.#orgs = opts.orgs ?? {};
    this.#chunk = opts.multipartChunk;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: this.#ac.signal, onListen() {} },
      (req) => this.#handle(req),
    );
    this.url = `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Starts a mock. */
  static start(opts: MockHubWriteOptions = {}): MockHubWrite {
    return new MockHubWrite(opts);
  }

  /** Stops the server and waits for it. */
  async close(): Promise<void> {
    this.#ac.abort();
    await this.#server.finished;
  }

  /** A repo's file as text (throws when absent). */
  text(repoId: string, path: string): string {
    const f = this.repos.get(repoId)?.files.get(path);
    if (!f) throw new Error(`${repoId} has no ${path}`);
    return new TextDecoder().decode(f.bytes);
  }

  /** The commit summaries of a repo, oldest first. */
  summaries(repoId: string): string[] {
    return (this.repos.get(repoId)?.commits ?? []).map((c) => c.summary);
  }

  async #handle(req: Request): Promise<Response> {
    const u = new URL(req.url);
    const seen: SeenWrite = {
      method: req.method,
      path: decodeURIComponent(u.pathname),
      auth: req.headers.get("authorization"),
      contentType: req.headers.get("content-type"),
      status: 0,
    };
    this.requests.push(seen);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const i = this.faults.findIndex((f) => f.times > 0 && (!f.path || f.path.test(seen.path)));
    let res: Response;
    if (i >= 0) {
      const f = this.faults[i];
      f.times--;
      await req.body?.cancel();
      res = _error(f.status, "injected fault");
      if (f.retryAfter !== undefined) res.headers.set("retry-after", f.retryAfter);
    } else {
      try {
        res = await this.#route(req, u);
      } catch (e) {
        res = _error(400, `mock: ${(e as Error).message}`);
      }
    }
    seen.status = res.status;
    return res;
  }

  /** The user of a valid Bearer token, or an error response. */
  #user(req: Request): string | Response {
    const h = req.headers.get("authorization");
    const m = /^Bearer (\S+)$/.exec(h ?? "");
    if (!m) return _error(401, "Invalid credentials in Authorization header");
    const user = this.tokens[m[1]];
    if (!user) return _error(401, "Invalid username or password.");
    return user;
  }

  #canWrite(user: string, repoId: string): boolean {
    const ns = repoId.split("/")[0];
    return ns === user || (this.#orgs[user] ?? []).includes(ns);
  }

  /** The user when it may write `repoId` (which must exist), else an error response. */
  #writer(req: Request, repoId: string): string | Response {
    const user = this.#user(req);
    if (typeof user !== "string") return user;
    const repo = this.repos.get(repoId);
    if (!repo) return _error(404, "Repository not found", "RepoNotFound");
    if (!this.#canWrite(user, repoId)) {
      return _error(403, "You don't have the rights to create a model under this namespace");
    }
    return user;
  }

  #noAuth(req: Request): Response | null {
    return req.headers.has("authorization")
      ? _error(400, "Only one auth mechanism allowed; upload URLs are presigned and take no Authorization")
      : null;
  }

  async #route(req: Request, u: URL): Promise<Response> {
    const p = decodeURIComponent(u.pathname);
    let m: RegExpExecArray | null;
    if (p === "/api/whoami-v2" && req.method === "GET") {
      const user = this.#user(req);
      if (typeof user !== "string") return user;
      return _json({
        type: "user",
        name: user,
        orgs: (this.#orgs[user] ?? []).map((name) => ({ name })),
        auth: { accessToken: { displayName: "test", role: "write" } },
      });
    }
    if (p === "/api/repos/create" && req.method === "POST") {
      const user = this.#user(req);
      if (typeof user !== "string") return user;
      const b = await req.json();
      const repoId = `${b.organization ?? user}/${b.name}`;
      if (!this.#canWrite(user, repoId)) {
        return _error(403, "You don't have the rights to create a model under this namespace");
      }
      if (this.repos.has(repoId)) {
        return _json({ error: "You already created this model repo", url: `${this.url}/${repoId}` }, 409);
      }
      this.repos.set(repoId, { private: b.private === true, files: new Map(), commits: [] });
      const repo = this.repos.get(repoId)!;
      this.#commit(
        repo,
        repoId,
        "initial commit",
        "",
        [],
        new Map([[".gitattributes", this.#gitattributes()]]),
      );
      return _json({ url: `${this.url}/${repoId}`, name: repoId, id: crypto.randomUUID() });
    }
    if ((m = /^\/api\/models\/(.+)\/preupload\/([^/]+)$/.exec(p)) && req.method === "POST") {
      const auth = this.#writer(req, m[1]);
      if (typeof auth !== "string") return auth;
      const b = this.#branch(m[1], m[2]);
      if (!b) return _error(404, `Invalid rev id: ${m[2]}`, "RevisionNotFound");
      return this.#preupload(b, await req.json());
    }
    if ((m = /^\/api\/models\/(.+)\/branch\/([^/]+)$/.exec(p)) && req.method === "POST") {
      const auth = this.#writer(req, m[1]);
      if (typeof auth !== "string") return auth;
      const repo = this.repos.get(m[1])!;
      if (this.#branch(m[1], m[2])) return _error(409, `Reference already exists: refs/heads/${m[2]}`);
      repo.branches ??= new Map();
      repo.branches.set(m[2], { files: new Map(repo.files), commits: [...repo.commits] });
      return _json({ success: true });
    }
    if ((m = /^\/api\/models\/(.+)\/commit\/([^/]+)$/.exec(p)) && req.method === "POST") {
      const auth = this.#writer(req, m[1]);
      if (typeof auth !== "string") return auth;
      const b = this.#branch(m[1], m[2]);
      if (!b) return _error(404, `Invalid rev id: ${m[2]}`, "RevisionNotFound");
      this.#inFlight++;
      this.maxConcurrentCommits = Math.max(this.maxConcurrentCommits, this.#inFlight);
      try {
        return await this.#commitRequest(b, m[1], req);
      } finally {
        this.#inFlight--;
      }
    }
    if ((m = /^\/(.+)\.git\/info\/lfs\/objects\/batch$/.exec(p)) && req.method === "POST") {
      const auth = this.#writer(req, m[1]);
      if (typeof auth !== "string") return auth;
      if (!(req.headers.get("content-type") ?? "").startsWith("application/vnd.git-lfs+json")) {
        return _error(415, "LFS batch needs Content-Type application/vnd.git-lfs+json");
      }
      return this.#batch(m[1], await req.json());
    }
    if ((m = /^\/(.+)\.git\/info\/lfs\/objects\/verify$/.exec(p)) && req.method === "POST") {
      const auth = this.#writer(req, m[1]);
      if (typeof auth !== "string") return auth;
      const b = await req.json();
      const obj = this.objects.get(b.oid);
      if (!obj || obj.length !== b.size) return _error(404, `object ${b.oid} not found`);
      return _json({ success: true });
    }
    if ((m = /^\/lfs-upload\/([0-9a-f]{64})\/(\d+)$/.exec(p)) && req.method === "PUT") {
      const bad = this.#noAuth(req);
      if (bad) return bad;
      const bytes = new Uint8Array(await req.arrayBuffer());
      if (bytes.length !== Number(m[2]) || _sha256(bytes) !== m[1]) {
        return _error(400, "uploaded bytes do not match the object's sha256/size");
      }
      this.objects.set(m[1], bytes);
      this.lfsReceived++;
      return new Response(null, { status: 200, headers: { etag: `"${m[1].slice(0, 32)}"` } });
    }
    if ((m = /^\/lfs-part\/([0-9a-f]{64})\/(\d+)$/.exec(p)) && req.method === "PUT") {
      const bad = this.#noAuth(req);
      if (bad) return bad;
      const bytes = new Uint8Array(await req.arrayBuffer());
      const parts = this.#parts.get(m[1]) ?? new Map();
      parts.set(Number(m[2]), bytes);
      this.#parts.set(m[1], parts);
      return new Response(null, {
        status: 200,
        headers: { etag: `"part-${m[2]}-${_sha256(bytes).slice(0, 8)}"` },
      });
    }
    if ((m = /^\/lfs-complete\/([0-9a-f]{64})\/(\d+)$/.exec(p)) && req.method === "POST") {
      const bad = this.#noAuth(req);
      if (bad) return bad;
      return this.#complete(m[1], Number(m[2]), await req.json());
    }
    if ((m = /^\/lfs-cdn\/([0-9a-f]{64})$/.exec(p)) && (req.method === "GET" || req.method === "HEAD")) {
      const b = this.objects.get(m[1]);
      if (!b) return _error(404, "no such object");
      return new Response(req.method === "HEAD" ? null : b.slice(), {
        headers: { "content-length": String(b.length), etag: `"${m[1]}"` },
      });
    }
    if (
      (m = /^\/(.+?\/.+?)\/resolve\/([^/]+)\/(.+)$/.exec(p)) &&
      (req.method === "GET" || req.method === "HEAD")
    ) {
      return this.#resolve(req, m[1], m[2], m[3]);
    }
    return _error(404, `mock: no route for ${req.method} ${p}`);
  }

  #gitattributes(): MockFile {
    const bytes = new TextEncoder().encode("*.safetensors filter=lfs diff=lfs merge=lfs -text\n");
    return { bytes, lfs: false, sha256: _sha256(bytes) };
  }

  /** The branch `rev` of a repo (`main` is the repo itself), or null. */
  #branch(repoId: string, rev: string): MockBranch | null {
    const repo = this.repos.get(repoId);
    if (!repo) return null;
    return rev === "main" ? repo : repo.branches?.get(rev) ?? null;
  }

  #head(b: MockBranch): string | null {
    return b.commits.length ? b.commits[b.commits.length - 1].oid : null;
  }

  #commit(
    repo: MockBranch,
    repoId: string,
    summary: string,
    description: string,
    deleted: string[],
    added: Map<string, MockFile>,
  ) {
    for (const d of deleted) {
      if (d.endsWith("/")) {
        for (const k of [...repo.files.keys()]) if (k.startsWith(d)) repo.files.delete(k);
      } else repo.files.delete(d);
    }
    for (const [k, v] of added) repo.files.set(k, v);
    const oid = createHash("sha1").update(`${repoId}${repo.commits.length}${summary}${Math.random()}`).digest(
      "hex",
    );
    repo.commits.push({
      oid,
      parent: this.#head(repo),
      summary,
      description,
      changed: [...deleted, ...added.keys()],
    });
    return oid;
  }

  #preupload(repo: MockBranch, body: { files?: { path: string; sample: string; size: number }[] }): Response {
    if (!Array.isArray(body.files)) return _error(400, "files must be an array");
    const files = body.files.map((f) => {
      if (typeof f.path !== "string" || typeof f.size !== "number" || typeof f.sample !== "string") {
        throw new Error("each file needs path, size and sample");
      }
      const sample = _fromB64(f.sample);
      if (sample.length > 512 || sample.length > f.size) throw new Error(`bad sample for ${f.path}`);
      const lfs = f.path.endsWith(".safetensors") || f.path.endsWith(".bin") || f.size > 10 * 1024 * 1024 ||
        sample.includes(0);
      const have = repo.files.get(f.path);
      const oid = have ? (have.lfs ? have.sha256 : _gitSha1(have.bytes)) : undefined;
      return { path: f.path, uploadMode: lfs ? "lfs" : "regular", shouldIgnore: false, oid };
    });
    return _json({ files, commitOid: this.#head(repo) });
  }

  #batch(repoId: string, body: {
    operation?: string;
    transfers?: string[];
    objects?: { oid: string; size: number }[];
    hash_algo?: string;
  }): Response {
    if (body.operation !== "upload" || !Array.isArray(body.objects) || body.hash_algo !== "sha256") {
      return _error(422, "LFS batch needs operation upload, objects and hash_algo sha256");
    }
    const multipart = this.#chunk !== undefined && (body.transfers ?? []).includes("multipart");
    let transfer = "basic";
    const up = this.uploadOrigin ?? this.url;
    const objects = body.objects.map(({ oid, size }) => {
      if (!/^[0-9a-f]{64}$/.test(oid) || !Number.isInteger(size)) throw new Error("bad object");
      if (this.objects.has(oid)) return { oid, size }; // already stored: no actions
      const verify = { href: `${this.url}/${repoId}.git/info/lfs/objects/verify`, header: {} };
      if (multipart && size > this.#chunk!) {
        transfer = "multipart";
        const n = Math.ceil(size / this.#chunk!);
        const header: Record<string, string> = { chunk_size: String(this.#chunk) };
        for (let k = 1; k <= n; k++) header[String(k)] = `${up}/lfs-part/${oid}/${k}`;
        return {
          oid,
          size,
          actions: { upload: { href: `${up}/lfs-complete/${oid}/${size}`, header }, verify },
        };
      }
      return { oid, size, actions: { upload: { href: `${up}/lfs-upload/${oid}/${size}` }, verify } };
    });
    return _json({ transfer, objects }, 200, { "content-type": "application/vnd.git-lfs+json" });
  }

  #complete(
    oid: string,
    size: number,
    body: { oid?: string; parts?: { partNumber: number; etag: string }[] },
  ) {
    const parts = this.#parts.get(oid);
    if (!parts || body.oid !== oid || !Array.isArray(body.parts)) return _error(400, "bad completion");
    const n = Math.ceil(size / this.#chunk!);
    if (body.parts.length !== n) return _error(400, `expected ${n} parts, got ${body.parts.length}`);
    const out = new Uint8Array(size);
    let off = 0;
    for (let k = 1; k <= n; k++) {
      const part = parts.get(k);
      const given = body.parts[k - 1];
      if (!part || given.partNumber !== k || given.etag !== `"part-${k}-${_sha256(part).slice(0, 8)}"`) {
        return _error(400, `part ${k} missing or its ETag does not match`);
      }
      if (off + part.length > size) return _error(400, "parts longer than the object");
      out.set(part, off);
      off += part.length;
    }
    if (off !== size || _sha256(out) !== oid) {
      return _error(400, "joined parts do not match the object's sha256");
    }
    this.objects.set(oid, out);
    this.#parts.delete(oid);
    this.lfsReceived++;
    return _json({ success: true });
  }

  async #commitRequest(b: MockBranch, repoId: string, req: Request): Promise<Response> {
    if ((req.headers.get("content-type") ?? "").split(";")[0].trim() !== "application/x-ndjson") {
      return _error(400, "commit needs Content-Type application/x-ndjson");
    }
    const text = await req.text();
    const lines = text.split("\n").filter((l) => l !== "");
    const items = lines.map((l, i) => {
      try {
        return JSON.parse(l);
      } catch {
        throw new Error(`line ${i + 1} is not JSON`);
      }
    });
    if (!items.length || items[0].key !== "header") return _error(400, "the first line must be the header");
    const header = items[0].value ?? {};
    if (typeof header.summary !== "string" || !header.summary) return _error(400, "header needs a summary");
    const head = this.#head(b);
    if (header.parentCommit !== undefined && header.parentCommit !== head) {
      return _error(412, `A commit has happened since. Please refresh and try again.`);
    }
    const added = new Map<string, MockFile>();
    const deleted: string[] = [];
    for (const [i, it] of items.slice(1).entries()) {
      const v = it.value ?? {};
      if (typeof v.path !== "string" || !v.path) throw new Error(`line ${i + 2}: no path`);
      if (it.key === "file") {
        if (v.encoding !== "base64" || typeof v.content !== "string") {
          throw new Error(`line ${i + 2}: bad file`);
        }
        const bytes = _fromB64(v.content);
        added.set(v.path, { bytes, lfs: false, sha256: _sha256(bytes) });
      } else if (it.key === "lfsFile") {
        if (v.algo !== "sha256" || !/^[0-9a-f]{64}$/.test(v.oid) || !Number.isInteger(v.size)) {
          throw new Error(`line ${i + 2}: bad lfsFile`);
        }
        const obj = this.objects.get(v.oid);
        if (!obj || obj.length !== v.size) {
          return _error(
            422,
            `Your push was rejected because an LFS pointer pointed to a file that does not exist`,
          );
        }
        added.set(v.path, { bytes: obj, lfs: true, sha256: v.oid });
      } else if (it.key === "deletedFile" || it.key === "deletedFolder") {
        deleted.push(it.key === "deletedFolder" && !v.path.endsWith("/") ? v.path + "/" : v.path);
      } else throw new Error(`line ${i + 2}: unknown key ${it.key}`);
    }
    const oid = this.#commit(b, repoId, header.summary, header.description ?? "", deleted, added);
    return _json({ success: true, commitOid: oid, commitUrl: `${this.url}/${repoId}/commit/${oid}` });
  }

  #resolve(req: Request, repoId: string, rev: string, path: string): Response {
    const repo = this.repos.get(repoId);
    if (!repo) return _error(404, "Repository not found", "RepoNotFound");
    if (repo.private) {
      const user = this.#user(req);
      if (typeof user !== "string" || !this.#canWrite(user, repoId)) {
        return _error(404, "Repository not found", "RepoNotFound");
      }
    }
    const b = this.#branch(repoId, rev) ?? (rev === this.#head(repo) ? repo : null);
    if (!b) return _error(404, "Revision not found", "RevisionNotFound");
    const commit = { "x-repo-commit": this.#head(b)! };
    const f = b.files.get(path);
    if (!f) {
      return new Response("Entry not found", {
        status: 404,
        headers: { ...commit, "x-error-code": "EntryNotFound" },
      });
    }
    if (f.lfs) {
      return new Response(null, {
        status: 302,
        headers: {
          ...commit,
          location: `${this.url}/lfs-cdn/${f.sha256}`,
          "x-linked-etag": `"${f.sha256}"`,
          "x-linked-size": String(f.bytes.length),
        },
      });
    }
    return new Response(req.method === "HEAD" ? null : f.bytes.slice(), {
      headers: { ...commit, etag: `"${_gitSha1(f.bytes)}"`, "content-length": String(f.bytes.length) },
    });
  }
}
