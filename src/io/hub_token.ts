/**
 * Hugging Face access tokens, found as `huggingface_hub` finds them: `HF_TOKEN`, then the legacy
 * `HUGGING_FACE_HUB_TOKEN`, then the token file (`HF_TOKEN_PATH`, default `$HF_HOME/token`, with
 * `HF_HOME` defaulting to `$XDG_CACHE_HOME/huggingface` or `~/.cache/huggingface`), trimmed. The file is
 * written with mode 0600 by `deno task login` and removed by `deno task logout`.
 * @module
 */
import { dirname, join } from "./path.ts";

/** Reads one environment variable (same shape as the download client's `EnvGetter`). */
type _Env = (k: string) => string | undefined;

function _procEnv(k: string): string | undefined {
  try {
    return Deno.env.get(k);
  } catch {
    return undefined; // no --allow-env for this name: behave as if unset
  }
}

function _home(p: string, env: _Env): string {
  if (p === "~" || p.startsWith("~/")) {
    const home = env("HOME") ?? env("USERPROFILE");
    if (home) return join(home, p.slice(1));
  }
  return p;
}

/**
 * The `huggingface_hub` home folder: `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else
 * `~/.cache/huggingface`; null when none of these can be found.
 */
export function hfHomeDir(env: _Env = _procEnv): string | null {
  const hf = env("HF_HOME");
  if (hf) return _home(hf, env);
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return join(_home(xdg, env), "huggingface");
  const home = env("HOME") ?? env("USERPROFILE");
  return home ? join(home, ".cache", "huggingface") : null;
}

/** Where the token file is: `HF_TOKEN_PATH`, else `<hfHomeDir>/token` (null when no home is known). */
export function tokenPath(env: _Env = _procEnv): string | null {
  const p = env("HF_TOKEN_PATH");
  if (p) return _home(p, env);
  const home = hfHomeDir(env);
  return home ? join(home, "token") : null;
}

/** Where a token came from (for messages; never the token itself). */
export type TokenSource = "HF_TOKEN" | "HUGGING_FACE_HUB_TOKEN" | "token file" | "argument";

/** A token and where it came from. */
export interface FoundToken {
  /** The token, trimmed. */
  token: string;
  /** `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`, `token file` or `argument`. */
  source: TokenSource;
}

/**
 * Finds the token: `explicit` when given, else `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`, then the token file
 * (unreadable or missing file: no token). Empty values count as unset.
 */
export function findToken(env: _Env = _procEnv, explicit?: string | null): FoundToken | null {
  if (explicit && explicit.trim()) return { token: explicit.trim(), source: "argument" };
  for (const k of ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"] as const) {
    const v = env(k)?.trim();
    if (v) return { token: v, source: k };
  }
  const path = tokenPath(env);
  if (!path) return null;
  try {
    const t = Deno.readTextFileSync(path).trim();
    return t ? { token: t, source: "token file" } : null;
  } catch {
    return null; // absent, or no read permission: no token
  }
}

/** The token {@link findToken} finds, or undefined. */
export function getToken(env: _Env = _procEnv, explicit?: string | null): string | undefined {
  return findToken(env, explicit)?.token;
}

/**
 * Writes the token file (mode 0600, through a temporary file and a rename, so a reader never sees half a
 * token) and returns its path.
 */
export async function saveToken(token: string, env: _Env = _procEnv): Promise<string> {
  const path = tokenPath(env);
  if (!path) throw new Error("cannot locate the Hugging Face home: set HF_HOME or HF_TOKEN_PATH");
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeTextFile(tmp, token.trim(), { mode: 0o600 });
    await Deno.chmod(tmp, 0o600).catch(() => {}); // umask may have narrowed it further; never wider
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return path;
}

/** Removes the token file; returns its path when there was one, else null. */
export async function deleteToken(env: _Env = _procEnv): Promise<string | null> {
  const path = tokenPath(env);
  if (!path) return null;
  try {
    await Deno.remove(path);
    return path;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Replaces every occurrence of `token` in `text` with `***` (for messages built from server replies). */
export function redactToken(text: string, token: string | null | undefined): string {
  return token && token.length >= 4 ? text.split(token).join("***") : text;
}
