/**
 * A mock Hugging Face Hub on 127.0.0.1 imitating the resolve endpoint: `/{id}/resolve/{revision}/{file}`
 * answering HEAD and GET with X-Repo-Commit and ETag; "LFS" files answer with a 302 to an absolute
 * `/cdn/<sha256>` URL carrying X-Linked-Etag and X-Linked-Size (as the real Hub does); Range requests
 * get 206; repos with a token answer 401 without it; a download can be cut after N bytes.
 * @module
 */

/** One repository of the mock. */
export interface MockRepo {
  commit: string;
  files: Record<string, Uint8Array>;
  /** Files served the LFS way (302 to the CDN). */
  lfs?: string[];
  /** Required bearer token (gated/private repo). */
  token?: string;
}

/** A request the mock saw. */
export interface SeenRequest {
  method: string;
  path: string;
  range: string | null;
  auth: string | null;
}

async function sha256(b: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The running mock. Always `close()` it. */
export class MockHub {
  readonly requests: SeenRequest[] = [];
  /** sha256 → bytes to send before dropping the connection, for the next GET of that content. */
  readonly cutAfter = new Map<string, number>();
  /** sha256s whose bytes are served with the first byte flipped (a corrupt CDN or proxy). */
  readonly corrupt = new Set<string>();
  /** When true, Range headers are ignored (200 with the whole body). */
  ignoreRange = false;
  readonly url: string;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #ac = new AbortController();
  readonly #shas = new Map<string, string>(); // "<id>\0<file>" -> sha256
  readonly #blobs = new Map<string, Uint8Array<ArrayBuffer>>(); // sha256 -> bytes

  private constructor(readonly repos: Record<string, MockRepo>) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: this.#ac.signal, onListen() {} },
      (req) => this.#handle(req),
    );
    this.url = `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Starts a mock serving `repos`. */
  static async start(repos: Record<string, MockRepo>): Promise<MockHub> {
    const hub = new MockHub(repos);
    for (const [id, repo] of Object.entries(repos)) {
      for (const [file, bytes] of Object.entries(repo.files)) {
        const copy = bytes.slice();
        const sha = await sha256(copy);
        hub.#shas.set(`${id}\0${file}`, sha);
        hub.#blobs.set(sha, copy);
      }
    }
    return hub;
  }

  /** The sha256 (the blob name for LFS files) of a file. */
  sha(id: string, file: string): string {
    return this.#shas.get(`${id}\0${file}`)!;
  }

  /** Stops the server and waits for it. */
  async close(): Promise<void> {
    this.#ac.abort();
    await this.#server.finished;
  }

  #handle(req: Request): Response {
    const u = new URL(req.url);
    this.requests.push({
      method: req.method,
      path: decodeURIComponent(u.pathname),
      range: req.headers.get("range"),
      auth: req.headers.get("authorization"),
    });
    const segs = u.pathname.split("/").slice(1).map(decodeURIComponent);
    if (segs[0] === "cdn" && segs.length === 2 && this.#blobs.has(segs[1])) {
      return this.#body(req, segs[1], { etag: `"cdn-${segs[1].slice(0, 8)}"` });
    }
    const at = segs.indexOf("resolve");
    const id = segs.slice(0, at).join("/");
    const repo = at > 0 ? this.repos[id] : undefined;
    if (!repo) {
      return new Response("Repository not found", {
        status: 404,
        headers: { "x-error-code": "RepoNotFound" },
      });
    }
    if (repo.token && req.headers.get("authorization") !== `Bearer ${repo.token}`) {
      return new Response("Access to this repository is restricted", {
        status: 401,
        headers: { "x-error-code": "GatedRepo" },
      });
    }
    const rev = segs[at + 1];
    if (rev !== "main" && rev !== repo.commit) {
      return new Response("Revision not found", {
        status: 404,
        headers: { "x-error-code": "RevisionNotFound" },
      });
    }
    const file = segs.slice(at + 2).join("/");
    const commit = { "x-repo-commit": repo.commit };
    if (!Object.hasOwn(repo.files, file)) {
      return new Response("Entry not found", {
        status: 404,
        headers: { ...commit, "x-error-code": "EntryNotFound" },
      });
    }
    const sha = this.sha(id, file);
    if (repo.lfs?.includes(file)) {
      return new Response(null, {
        status: 302,
        headers: {
          ...commit,
          location: `${this.url}/cdn/${sha}`,
          "x-linked-etag": `"${sha}"`,
          "x-linked-size": String(repo.files[file].length),
        },
      });
    }
    // a regular (git) file: weak ETag, as the Hub sends for small files
    return this.#body(req, sha, { ...commit, etag: `W/"${sha.slice(0, 40)}"` });
  }

  #body(req: Request, sha: string, headers: Record<string, string>): Response {
    const bytes = this.#blobs.get(sha)!;
    const h: Record<string, string> = {
      ...headers,
      "accept-ranges": "bytes",
      "content-type": "application/octet-stream",
    };
    let start = 0, status = 200;
    const m = /^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "");
    if (m && !this.ignoreRange) {
      start = Number(m[1]);
      if (start >= bytes.length) {
        return new Response(null, { status: 416, headers: { "content-range": `bytes */${bytes.length}` } });
      }
      status = 206;
      h["content-range"] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    }
    let part = bytes.subarray(start);
    if (this.corrupt.has(sha)) {
      part = part.slice();
      part[0] ^= 0xff;
    }
    h["content-length"] = String(part.length);
    if (req.method === "HEAD") return new Response(null, { status, headers: h });
    const cut = this.cutAfter.get(sha);
    if (cut === undefined) return new Response(part, { status, headers: h });
    this.cutAfter.delete(sha);
    // Send `cut` bytes, then end the body early: the connection drops short of Content-Length.
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(part.slice(0, cut));
        setTimeout(() => c.close(), 20);
      },
    });
    return new Response(body, { status, headers: h });
  }
}
