/**
 * An HTTP server for a token-classification model with the Hugging Face Inference API's shapes:
 * `POST /` or `POST /models/<name>` with `{"inputs": "…" | ["…", …], "parameters": {"aggregation_strategy":
 * "simple", …}}` answers the entity list (one list per input when `inputs` is an array); `GET /health`;
 * `GET /` the widget page. Bad requests get a 4xx with `{"error": "…"}`; bodies over `maxBodyBytes` are
 * refused (413). Requests are queued and the ones waiting together with the same strategy run as one
 * batch through the pipeline, so concurrent clients never run the GPU at once.
 * @module
 */
import { pipeline } from "../pipeline/pipeline.ts";
import type { TokenClassificationPipeline } from "../pipeline/token_classification.ts";
import { AGGREGATION_STRATEGIES, type AggregationStrategy } from "../pipeline/types.ts";
import { widgetPage } from "./widget.ts";

/** Options of {@link createNerHandler}. */
export interface NerHandlerOptions {
  /**
   * A loaded pipeline (e.g. `pipeline("token-classification", { model: DIR })`): its scorer, tokenizer and
   * settings serve every strategy. It is not disposed by the handler.
   */
  base: TokenClassificationPipeline<AggregationStrategy>;
  /** The model's name (shown on the page and accepted as `/models/<name>`). */
  name: string;
  /** Largest request body in bytes (default 1 MB). */
  maxBodyBytes?: number;
  /** Most texts in one request (default 256). */
  maxInputs?: number;
}

/** A request handler and what it holds. */
export interface NerHandler {
  /** Answers one HTTP request. */
  handle(req: Request): Promise<Response>;
  /** Number of pipeline batches run so far (requests waiting together share one). */
  readonly batches: number;
  /** Frees the pipelines (not the model). */
  dispose(): void;
}

class _HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function _json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

async function _readBody(req: Request, limit: number): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (declared > limit) {
    await req.body?.cancel();
    throw new _HttpError(413, `request body of ${declared} bytes is over the limit of ${limit} bytes`);
  }
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw new _HttpError(413, `request body is over the limit of ${limit} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(all);
  } catch {
    throw new _HttpError(400, "request body is not valid UTF-8");
  }
}

interface _Parsed {
  texts: string[];
  single: boolean;
  strategy: AggregationStrategy;
}

function _parseRequest(text: string, maxInputs: number): _Parsed {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new _HttpError(400, `request body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new _HttpError(400, 'expected a JSON object {"inputs": "…" | ["…"], "parameters": {…}}');
  }
  const b = body as Record<string, unknown>;
  if (!("inputs" in b)) throw new _HttpError(400, 'missing "inputs" (a string or an array of strings)');
  const inputs = b.inputs;
  const single = typeof inputs === "string";
  if (!single && !(Array.isArray(inputs) && inputs.every((x) => typeof x === "string"))) {
    throw new _HttpError(400, '"inputs" must be a string or an array of strings');
  }
  const texts = single ? [inputs as string] : inputs as string[];
  if (texts.length > maxInputs) {
    throw new _HttpError(413, `"inputs" has ${texts.length} texts; at most ${maxInputs} per request`);
  }
  const params = b.parameters ?? {};
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new _HttpError(400, '"parameters" must be an object');
  }
  const s = (params as Record<string, unknown>).aggregation_strategy ?? "simple";
  if (typeof s !== "string" || !AGGREGATION_STRATEGIES.includes(s.toLowerCase() as AggregationStrategy)) {
    throw new _HttpError(
      400,
      `"parameters.aggregation_strategy" must be one of ${AGGREGATION_STRATEGIES.join(", ")}, got ${
        JSON.stringify(s)
      }`,
    );
  }
  return { texts, single, strategy: s.toLowerCase() as AggregationStrategy };
}

interface _Job extends _Parsed {
  resolve(v: unknown[][]): void;
  reject(e: unknown): void;
}

/** Builds the request handler for a loaded model and tokenizer. */
export function createNerHandler(opts: NerHandlerOptions): NerHandler {
  const limit = opts.maxBodyBytes ?? 1_000_000;
  const maxInputs = opts.maxInputs ?? 256;
  const pipes = new Map<AggregationStrategy, Promise<TokenClassificationPipeline<AggregationStrategy>>>();
  const pipeFor = (s: AggregationStrategy) => {
    let p = pipes.get(s);
    if (!p) {
      const b = opts.base;
      p = s === b.aggregationStrategy ? Promise.resolve(b) : pipeline("token-classification", {
        model: b.scorer,
        tokenizer: b.tokenizer,
        aggregationStrategy: s,
        ignoreLabels: [...b.ignoreLabels],
        stride: b.stride,
        batchSize: b.batchSize,
        maxLength: b.maxLength,
        word: b.word,
      }) as Promise<TokenClassificationPipeline<AggregationStrategy>>;
      pipes.set(s, p);
    }
    return p;
  };
  const queue: _Job[] = [];
  let running = false;
  let batches = 0;
  const drain = async () => {
    if (running) return;
    running = true;
    try {
      while (queue.length) {
        // Everything waiting with the first job's strategy runs as one pipeline call.
        const strategy = queue[0].strategy;
        const group = queue.filter((j) => j.strategy === strategy);
        for (const j of group) queue.splice(queue.indexOf(j), 1);
        try {
          const ner = await pipeFor(strategy);
          const all = await ner.run(group.flatMap((j) => j.texts)) as unknown[][];
          batches++;
          let at = 0;
          for (const j of group) {
            j.resolve(all.slice(at, at + j.texts.length));
            at += j.texts.length;
          }
        } catch (e) {
          for (const j of group) j.reject(e);
        }
      }
    } finally {
      running = false;
    }
  };
  const infer = (p: _Parsed) =>
    new Promise<unknown[][]>((resolve, reject) => {
      queue.push({ ...p, resolve, reject });
      queueMicrotask(drain);
    });
  const page = widgetPage(opts.name);
  return {
    get batches() {
      return batches;
    },
    dispose() {
      for (const p of pipes.values()) p.then((x) => x !== opts.base && x.dispose(), () => {});
    },
    async handle(req: Request): Promise<Response> {
      const url = new URL(req.url);
      const path = url.pathname.replace(/\/+$/, "") || "/";
      try {
        if (path === "/health") {
          if (req.method !== "GET" && req.method !== "HEAD") throw new _HttpError(405, "use GET /health");
          return _json({ status: "ok", model: opts.name, queued: queue.length });
        }
        const isModelPath = path.startsWith("/models/");
        if (path !== "/" && !isModelPath) {
          throw new _HttpError(404, `no route ${path}; POST / or /models/<name>`);
        }
        if (isModelPath && decodeURIComponent(path.slice("/models/".length)) !== opts.name) {
          throw new _HttpError(
            404,
            `model ${path.slice("/models/".length)} is not served here (${opts.name} is)`,
          );
        }
        if (req.method === "GET" && path === "/") {
          return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
        }
        if (req.method !== "POST") throw new _HttpError(405, `use POST ${path}`);
        const parsed = _parseRequest(await _readBody(req, limit), maxInputs);
        const results = await infer(parsed);
        return _json(parsed.single ? results[0] : results);
      } catch (e) {
        if (e instanceof _HttpError) return _json({ error: e.message }, e.status);
        return _json({ error: `inference failed: ${(e as Error).message}` }, 500);
      }
    },
  };
}
