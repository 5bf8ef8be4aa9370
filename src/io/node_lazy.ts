/**
 * `node:` built-ins loaded on first use (dynamic import), so that modules needing them only on Deno's code
 * paths (streamed uploads, native hashing) still load in a browser, where nothing imports them.
 * @module
 */

let _crypto: Promise<typeof import("node:crypto")> | undefined;
let _http: Promise<typeof import("node:http")> | undefined;
let _https: Promise<typeof import("node:https")> | undefined;
let _fs: Promise<typeof import("node:fs")> | undefined;

/** `node:crypto`, imported once on first call. */
export function nodeCrypto(): Promise<typeof import("node:crypto")> {
  return _crypto ??= import("node:crypto");
}

/** `node:http`, imported once on first call. */
export function nodeHttp(): Promise<typeof import("node:http")> {
  return _http ??= import("node:http");
}

/** `node:https`, imported once on first call. */
export function nodeHttps(): Promise<typeof import("node:https")> {
  return _https ??= import("node:https");
}

/** `node:fs`, imported once on first call. */
export function nodeFs(): Promise<typeof import("node:fs")> {
  return _fs ??= import("node:fs");
}
