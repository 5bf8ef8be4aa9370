/**
 * Prints what the `deno task` commands that talk to the Hub may reach, so that `HF_ENDPOINT` pointing to a
 * mirror, a self-hosted Hub or a server on 127.0.0.1 works without editing deno.json while net access
 * otherwise stays limited to the Hub's hosts. deno.json's tasks call it in a command substitution:
 *
 *   --allow-net=$(deno run --allow-env=HF_ENDPOINT src/io/hub_net.ts)
 *   --allow-write=$(deno run --allow-env=... src/io/hub_net.ts --token-dir)
 *
 * Without flags it prints {@link HUB_HOSTS} plus HF_ENDPOINT's `host[:port]`, comma-separated; with
 * `--token-dir` the folder of the token file (HF_TOKEN_PATH's, else HF_HOME's).
 * @module
 */
import { dirname } from "node:path";
import { tokenPath } from "./hub_token.ts";

/**
 * The Hub's own hosts: the API and resolve URLs, the CDNs downloads are redirected to, and the storage
 * that LFS upload URLs (basic PUTs and multipart parts) point to.
 */
export const HUB_HOSTS: readonly string[] = [
  "huggingface.co",
  "cdn-lfs.huggingface.co",
  "cdn-lfs-us-1.huggingface.co",
  "cdn-lfs.hf.co",
  "cdn-lfs-us-1.hf.co",
  "cas-bridge.xethub.hf.co",
  "hf-hub-lfs-us-east-1.s3-accelerate.amazonaws.com",
  "hf-hub-lfs-us-east-1.s3.us-east-1.amazonaws.com",
  "s3.us-east-1.amazonaws.com",
];

/** `HUB_HOSTS` plus the `host[:port]` of `endpoint` (ignored when it is not an http(s) URL). */
export function allowedHosts(endpoint: string | undefined): string[] {
  const hosts = [...HUB_HOSTS];
  if (endpoint) {
    try {
      const u = new URL(endpoint);
      if ((u.protocol === "http:" || u.protocol === "https:") && !hosts.includes(u.host)) hosts.push(u.host);
    } catch { /* not a URL: the client's own error says so */ }
  }
  return hosts;
}

function _env(k: string): string | undefined {
  try {
    return Deno.env.get(k);
  } catch {
    return undefined;
  }
}

if (import.meta.main) {
  const out = Deno.args[0] === "--token-dir"
    ? dirname(tokenPath(_env) ?? "./token")
    : allowedHosts(_env("HF_ENDPOINT")).join(",");
  await Deno.stdout.write(new TextEncoder().encode(out));
}
