/**
 * `deno task serve`: an HTTP server for a trained token-classification model (see server.ts).
 *
 *     deno task serve --model DIR|HUB_ID [--port 8080] [--host 127.0.0.1] [--tokenizer DIR]
 *                     [--max-body-bytes 1000000] [--allow-untrained-head]
 *
 * Prints `serve: listening on http://HOST:PORT/` on stderr once it accepts requests; Ctrl-C (SIGINT) or
 * SIGTERM stops accepting, finishes the requests in flight, frees the model and exits 0.
 * @module
 */
import { parseArgs } from "node:util";
import { pipeline } from "../pipeline/pipeline.ts";
import { checkLoadedHead } from "../pipeline/untrained_head.ts";
import type { TokenClassificationPipeline } from "../pipeline/token_classification.ts";
import type { AggregationStrategy } from "../pipeline/types.ts";
import { createNerHandler } from "./server.ts";

/** The command's help text. */
export const SERVE_USAGE = `usage: deno task serve --model DIR|HUB_ID [options]
  --model DIR|ID          trained HF token-classification folder or Hub id (required)
  --tokenizer DIR         tokenizer folder (default: the model's, else bert-base-cased)
  --port N                port (default 8080; 0 picks a free one)
  --host H                interface (default 127.0.0.1)
  --max-body-bytes N      largest request body (default 1000000)
  --allow-untrained-head  serve a checkpoint without a trained classifier (random labels)
  --help                  this text
POST / or /models/<name> {"inputs": "text" | ["text", …], "parameters": {"aggregation_strategy": "simple"}};
GET /health; GET / the widget page.`;

/** Runs the server until SIGINT/SIGTERM (or `signal`); returns the exit code (2 for bad arguments). */
export async function runServe(args: readonly string[], signal?: AbortSignal): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args: [...args],
      strict: true,
      options: {
        model: { type: "string" },
        tokenizer: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        "max-body-bytes": { type: "string" },
        "allow-untrained-head": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
    if (v.help) {
      console.log(SERVE_USAGE);
      return 0;
    }
    if (!v.model) throw new Error("--model is required");
    for (const f of ["port", "max-body-bytes"] as const) {
      if (v[f] !== undefined && !/^\d+$/.test(v[f]!)) {
        throw new Error(`--${f} needs an integer, got "${v[f]}"`);
      }
    }
  } catch (e) {
    console.error(`serve: ${(e as Error).message}\n${SERVE_USAGE}`);
    return 2;
  }
  const model = v.model!;
  const base = await pipeline("token-classification", {
    model,
    tokenizer: v.tokenizer,
    aggregationStrategy: "simple",
    onLoad: (report) => checkLoadedHead(report, model, v["allow-untrained-head"] ?? false),
  }) as TokenClassificationPipeline<AggregationStrategy>;
  // A local folder is named by its last segment, a Hub id by itself (as /models/<id> on the Inference API).
  let isDir = false;
  try {
    isDir = Deno.statSync(model).isDirectory;
  } catch { /* a Hub id */ }
  const name = isDir ? model.replace(/\/+$/, "").split("/").pop()! : model;
  const handler = createNerHandler({
    base,
    name,
    maxBodyBytes: v["max-body-bytes"] ? Number(v["max-body-bytes"]) : undefined,
  });
  const ac = new AbortController();
  const stop = () => ac.abort();
  signal?.addEventListener("abort", stop);
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  const server = Deno.serve({
    hostname: v.host ?? "127.0.0.1",
    port: v.port !== undefined ? Number(v.port) : 8080,
    signal: ac.signal,
    onListen: ({ hostname, port }) =>
      console.error(`serve: listening on http://${hostname}:${port}/ (${name})`),
    onError: (e) =>
      new Response(JSON.stringify({ error: (e as Error).message }), {
        status: 500,
        headers: { "content-type": "application/json" },
      }),
  }, (req) => handler.handle(req));
  await server.finished;
  for (const s of signals) Deno.removeSignalListener(s, stop);
  handler.dispose();
  base.dispose();
  console.error("serve: stopped");
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await runServe(Deno.args));
  } catch (e) {
    console.error(`serve: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
