/**
 * The Hub's write API, first part: an authenticated client with bounded retries (429 honouring
 * `Retry-After`, 5xx, dropped connections), errors that say what to do, `whoami` (`GET /api/whoami-v2`)
 * and `createRepo` (`POST /api/repos/create`, a 409 meaning "already exists"). Commits and LFS uploads
 * are in `hub_upload.ts`. The token goes only to the endpoint's own origin and never into a message.
 * @module
 */
import { type EnvGetter, hubEndpoint, HubError, isValidModelId, processEnv } from "./hub.ts";
import { findToken, redactToken, type TokenSource } from "./hub_token.ts";

/** Options of {@link HubClient}. */
export interface HubClientOptions {
  /** Access token; default: `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`, then the token file. */
  token?: string | null;
  /** Environment lookup (default: the process environment). */
  env?: EnvGetter;
  /** Base URL (default: `HF_ENDPOINT`, else https://huggingface.co). */
  endpoint?: string;
  /** fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
  /** Retries after a 429, a 5xx or a dropped connection (default 5). */
  maxRetries?: number;
  /** First backoff in ms, doubled per retry up to 30 s (default 1000). `Retry-After` wins when larger. */
  backoffMs?: number;
  /** Told about each retry (default: silent). */
  onRetry?: (message: string) => void;
}

/** `GET /api/whoami-v2`: who the token belongs to. */
export interface WhoAmI {
  /** User (or organization) name: the default namespace for new repos. */
  name: string;
  /** `user` or `org`. */
  type?: string;
  /** Organizations the user belongs to. */
  orgs?: { name: string }[];
  /** The token's own description, e.g. `{ accessToken: { displayName, role } }`. */
  auth?: { accessToken?: { displayName?: string; role?: string } };
}

/** A repository on the Hub. */
export interface RepoUrl {
  /** `namespace/name`. */
  repoId: string;
  /** `{endpoint}/{namespace}/{name}`. */
  url: string;
}

/** One request of {@link HubClient.request}. */
export interface HubRequest {
  method: string;
  /** Absolute URL, or a path below the endpoint (starting with `/`). */
  url: string;
  /** JSON body (sent as `application/json` unless `headers` say otherwise). */
  json?: unknown;
  /** Body factory, called once per attempt (so a retry resends the whole body). */
  body?: () => BodyInit;
  headers?: Record<string, string>;
  /** Send the token (default true; only ever to the endpoint's origin). */
  auth?: boolean;
  /** What is being done, for messages (e.g. `commit to org/name`). */
  what: string;
  /** The repository concerned, for 401/403/404 messages. */
  repoId?: string;
  /** Statuses returned to the caller instead of thrown (e.g. 409 for createRepo). */
  accept?: number[];
  /** Sends the request instead of fetch (e.g. a streamed PUT with a Content-Length); retried the same. */
  send?: (url: string, headers: Record<string, string>) => Promise<Response>;
}

const _RETRY_STATUS = new Set([429, 500, 502, 503, 504]);

/** Seconds (or an HTTP date) of a `Retry-After` header as milliseconds, or null. */
export function retryAfterMs(v: string | null, now = Date.now()): number | null {
  if (v === null || v.trim() === "") return null;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : null;
}

/** The reason a Hub reply gives: `X-Error-Message`, a JSON `error`/`message`, or the text (one line). */
async function _reason(res: Response): Promise<string> {
  const header = res.headers.get("x-error-message");
  let text = "";
  try {
    text = await res.text();
  } catch { /* body unreadable */ }
  if (header) return header;
  try {
    const j = JSON.parse(text);
    const m = j?.error ?? j?.message;
    if (typeof m === "string") return m;
    if (m && typeof m.message === "string") return m.message;
  } catch { /* not JSON */ }
  return text.replace(/\s+/g, " ").trim().slice(0, 300);
}

/** An authenticated Hub client: endpoint, token, retries and error messages. */
export class HubClient {
  /** The base URL, without a trailing slash. */
  readonly endpoint: string;
  readonly #token: string | undefined;
  readonly #source: TokenSource | null;
  readonly #fetch: typeof fetch;
  readonly #maxRetries: number;
  readonly #backoffMs: number;
  readonly #onRetry: (m: string) => void;
  readonly #offline: boolean;
  #whoami: WhoAmI | null = null;

  /** A client for `opts.endpoint` (or HF_ENDPOINT) with the token found as huggingface_hub finds it. */
  constructor(opts: HubClientOptions = {}) {
    const env = opts.env ?? processEnv;
    this.endpoint = (opts.endpoint ?? hubEndpoint(env)).replace(/\/+$/, "");
    const found = findToken(env, opts.token);
    this.#token = found?.token;
    this.#source = found?.source ?? null;
    this.#fetch = opts.fetch ?? fetch;
    this.#maxRetries = opts.maxRetries ?? 5;
    this.#backoffMs = opts.backoffMs ?? 1000;
    this.#onRetry = opts.onRetry ?? (() => {});
    this.#offline = ["1", "ON", "YES", "TRUE"].includes((env("HF_HUB_OFFLINE") ?? "").trim().toUpperCase());
  }

  /** Whether a token was found. */
  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** Where the token came from (`HF_TOKEN`, `token file`, …), or null. */
  get tokenSource(): TokenSource | null {
    return this.#source;
  }

  /** Never shows the token. */
  toJSON(): Record<string, unknown> {
    return { endpoint: this.endpoint, hasToken: this.hasToken };
  }

  /** `{endpoint}/{repoId}`. */
  repoUrl(repoId: string): string {
    return `${this.endpoint}/${repoId}`;
  }

  /** Removes the token from a text (defence against a server echoing it). */
  redact(text: string): string {
    return redactToken(text, this.#token);
  }

  /** Authorization header for `url` when it is on the endpoint's origin and a token is known. */
  authHeaders(url: string): Record<string, string> {
    if (!this.#token || new URL(url).origin !== new URL(this.endpoint).origin) return {};
    return { authorization: `Bearer ${this.#token}` };
  }

  /**
   * Sends a request, retrying (bounded, with backoff) on 429, 5xx and connection failures. A status
   * other than 2xx (and `req.accept`) is thrown as a {@link HubError} that names the fix.
   */
  async request(req: HubRequest): Promise<Response> {
    const url = req.url.startsWith("/") ? this.endpoint + req.url : req.url;
    if (this.#offline) {
      throw new HubError(
        `${req.what}: HF_HUB_OFFLINE is set; unset it to talk to the Hub at ${this.endpoint}`,
      );
    }
    const shown = url.split("?")[0]; // presigned upload URLs carry signatures: never in a message
    const headers: Record<string, string> = { "user-agent": "webgpu-ner", ...req.headers };
    if (req.json !== undefined) headers["content-type"] ??= "application/json";
    if (req.auth !== false) Object.assign(headers, this.authHeaders(url));
    const host = new URL(url).host;
    const noNet = (why: string) =>
      new HubError(
        `${req.what}: no network permission for ${host} (${why}). Run through \`deno task\` (it allows ` +
          "the Hub's hosts and HF_ENDPOINT's) or add the host to --allow-net",
      );
    if (Deno.permissions.querySync({ name: "net", host }).state !== "granted") throw noNet("not granted");
    for (let attempt = 0;; attempt++) {
      const body = req.json !== undefined ? JSON.stringify(req.json) : req.body?.();
      let res: Response;
      try {
        res = req.send
          ? await req.send(url, headers)
          : await this.#fetch(url, { method: req.method, headers, body });
      } catch (e) {
        if (
          e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable ||
          (e as { code?: string }).code === "EPERM"
        ) throw noNet((e as Error).message);
        if (attempt >= this.#maxRetries) {
          throw new HubError(
            `${req.what}: cannot reach ${shown}: ${this.redact((e as Error).message)} (after ${
              attempt + 1
            } ` +
              "attempts). Check the network or HF_ENDPOINT",
          );
        }
        await this.#wait(attempt, null, `${req.what}: ${(e as Error).message}`);
        continue;
      }
      if (res.ok || req.accept?.includes(res.status)) return res;
      if (_RETRY_STATUS.has(res.status) && attempt < this.#maxRetries) {
        const after = retryAfterMs(res.headers.get("retry-after"));
        await res.body?.cancel().catch(() => {});
        await this.#wait(attempt, after, `${req.what}: HTTP ${res.status}`);
        continue;
      }
      throw await this.#statusError(req, shown, res, attempt);
    }
  }

  async #wait(attempt: number, retryAfter: number | null, why: string): Promise<void> {
    const backoff = Math.min(30_000, this.#backoffMs * 2 ** attempt);
    const ms = Math.min(120_000, Math.max(backoff, retryAfter ?? 0));
    this.#onRetry(`${why}; retrying in ${(ms / 1000).toFixed(1)} s (${attempt + 1}/${this.#maxRetries})`);
    await new Promise((r) => setTimeout(r, ms));
  }

  async #statusError(req: HubRequest, url: string, res: Response, attempt: number): Promise<HubError> {
    const reason = this.redact(await _reason(res));
    const why = reason ? ` (${reason})` : "";
    const repo = req.repoId ? `"${req.repoId}"` : "the repository";
    const head = `${req.what}: HTTP ${res.status}${why}`;
    const login = "log in with `deno task login` or set HF_TOKEN to an access token with write access";
    switch (res.status) {
      case 401:
        return new HubError(
          this.#token
            ? `${head}: the Hub refused the token from ${this.#source}; it may be invalid or expired: ${login}`
            : `${head}: no Hugging Face token found: ${login}`,
        );
      case 403:
        return new HubError(
          `${head}: the token from ${this.#source ?? "nowhere"} may not write to ${repo}: use a token with ` +
            "write access, and check that the namespace is yours or an organization you can write to",
        );
      case 404:
        return new HubError(
          `${head}: ${repo} was not found at ${this.endpoint}: check the repo id (namespace/name) and the ` +
            "revision; a private repo you cannot see also answers 404 (check the token)",
        );
      case 412:
        return new HubError(
          `${head}: ${repo} moved on since the parent commit this commit was based on (someone else ` +
            "committed meanwhile); nothing was changed: retry against the latest commit",
        );
      default:
        return new HubError(
          `${head}${_RETRY_STATUS.has(res.status) ? ` after ${attempt + 1} attempts` : ""} at ${url}`,
        );
    }
  }

  /** `GET /api/whoami-v2` (cached per client): the token's user. A rejected token throws. */
  async whoami(): Promise<WhoAmI> {
    if (this.#whoami) return this.#whoami;
    if (!this.#token) {
      throw new HubError(
        "no Hugging Face token found: log in with `deno task login` or set HF_TOKEN to an access token",
      );
    }
    const res = await this.request({ method: "GET", url: "/api/whoami-v2", what: "whoami" });
    const j = await res.json();
    if (typeof j?.name !== "string") throw new HubError(`whoami: ${this.endpoint} answered without a name`);
    this.#whoami = j as WhoAmI;
    return this.#whoami;
  }

  /** `namespace/name` for `id`: ids without a namespace get the token user's. */
  async fullRepoId(id: string): Promise<string> {
    const full = id.includes("/") ? id : `${(await this.whoami()).name}/${id}`;
    if (!isValidModelId(full)) {
      throw new HubError(
        `"${id}" is not a valid repo id ("name" or "namespace/name": letters, digits, "-", "_", "." and ` +
          "at most 96 characters per part)",
      );
    }
    return full;
  }

  /** `POST /api/models/{repo}/branch/{branch}` from `main`'s head; an existing branch is fine. */
  async createBranch(repoId: string, branch: string): Promise<void> {
    const res = await this.request({
      method: "POST",
      url: `/api/models/${repoId}/branch/${encodeURIComponent(branch)}`,
      json: {},
      what: `create branch ${branch} of ${repoId}`,
      repoId,
      accept: [409],
    });
    await res.body?.cancel();
  }

  /**
   * `POST /api/repos/create` (a model repo). An existing repo is fine when `existOk` (default true): the
   * Hub answers 409 with the repo's `url`. Returns the id and URL.
   */
  async createRepo(id: string, opts: { private?: boolean; existOk?: boolean } = {}): Promise<RepoUrl> {
    const repoId = await this.fullRepoId(id);
    const [organization, name] = repoId.split("/");
    const res = await this.request({
      method: "POST",
      url: "/api/repos/create",
      json: { name, organization, private: opts.private ?? false },
      what: `create repo ${repoId}`,
      repoId,
      accept: opts.existOk === false ? [] : [409],
    });
    let url = this.repoUrl(repoId);
    try {
      const j = await res.json();
      if (typeof j?.url === "string") url = j.url.replace(/\/+$/, "");
    } catch { /* no JSON body: keep the computed URL */ }
    const fromUrl = url.startsWith(this.endpoint + "/") ? url.slice(this.endpoint.length + 1) : repoId;
    return { repoId: isValidModelId(fromUrl) ? fromUrl : repoId, url };
  }
}
