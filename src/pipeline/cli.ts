/**
 * `deno task predict`: the pipeline from the command line.
 *
 *     deno task predict --model DIR|HUB_ID [--tokenizer DIR] [--aggregation simple] [--format json|conll]
 *                       [--stride N] [--batch-size N] [--max-length N] [--ignore-labels O,...] TEXT…
 *
 * JSON format (default): one JSON line (the entity list) per text argument, or per stdin line when there is
 * none. CoNLL format: pre-split input (one token per line, blank line between sentences) from the files
 * given, or stdin, printed back as `token predicted-tag` lines.
 * @module
 */
import { parseArgs } from "node:util";
import { profileFromArgs } from "../engine/profiler_cli.ts";
import { formatConll, parseConllInput } from "./conll_io.ts";
import { pipeline } from "./pipeline.ts";
import { checkLoadedHead } from "./untrained_head.ts";
import { AGGREGATION_STRATEGIES, type AggregationStrategy } from "./types.ts";

/** The command's help text. */
export const PREDICT_USAGE = `usage: deno task predict --model DIR|HUB_ID [options] [TEXT…]
  --model DIR|ID          HF token-classification folder or Hub id, any supported model_type (required)
  --tokenizer DIR         tokenizer folder (default: the model's tokenizer.json or vocab.txt, else bert-base-cased)
  --aggregation NAME      none, simple (default), first, average or max
  --format json|conll     json (default): one JSON line of entities per text (TEXT arguments, or stdin
                          lines when none); conll: pre-split input (one token per line, blank line
                          between sentences) from FILE arguments or stdin, printed as "token tag" lines
  --keep-columns          conll: print each whole input line followed by the tag
  --stride N              tokens of overlap between windows of long texts (default 0)
  --batch-size N          windows per forward (default 8)
  --max-length N          window length with special tokens (default: model limit)
  --ignore-labels A,B     labels left out (default O; "" keeps all)
  --word decoded|slice    entity "word": the tokenizer's decoding as HF (default) or the exact text slice
  --allow-untrained-head  predict even when the checkpoint has no trained classifier (random labels)
  --profile               print a kernel/host time table on stderr (--profile-trace FILE: Chrome trace)
  --help                  this text`;

/** A bad command line; the message says what is wrong (the help text is printed with it). */
export class PredictArgsError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PredictArgsError";
  }
}

/** Parsed command line of `deno task predict`. */
export interface PredictArgs {
  /** Model folder or Hub id. */
  model: string;
  /** Tokenizer folder. */
  tokenizer?: string;
  /** Aggregation strategy. */
  aggregation: AggregationStrategy;
  /** Output format. */
  format: "json" | "conll";
  /** CoNLL: keep the input lines' columns. */
  keepColumns: boolean;
  /** Window overlap. */
  stride?: number;
  /** Windows per forward. */
  batchSize?: number;
  /** Window length. */
  maxLength?: number;
  /** Labels left out. */
  ignoreLabels?: string[];
  /** How entities get their `word`. */
  word: "decoded" | "slice";
  /** Predict with a newly initialised (untrained) head instead of refusing. */
  allowUntrainedHead: boolean;
  /** Texts (json) or files (conll). */
  inputs: string[];
  /** `--help` was given. */
  help: boolean;
}

function _int(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new PredictArgsError(`${flag} needs an integer >= ${min}, got "${value}"`);
  }
  return Number(value);
}

/** Parses `deno task predict` arguments; throws {@link PredictArgsError} for bad ones. */
export function parsePredictArgs(args: readonly string[]): PredictArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: true,
      options: {
        model: { type: "string" },
        tokenizer: { type: "string" },
        aggregation: { type: "string" },
        format: { type: "string" },
        "keep-columns": { type: "boolean" },
        stride: { type: "string" },
        "batch-size": { type: "string" },
        "max-length": { type: "string" },
        "ignore-labels": { type: "string" },
        word: { type: "string" },
        "allow-untrained-head": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new PredictArgsError((e as Error).message);
  }
  const v = parsed.values;
  const help = v.help ?? false;
  if (!v.model && !help) throw new PredictArgsError("--model is required");
  const aggregation = (v.aggregation ?? "simple") as AggregationStrategy;
  if (!AGGREGATION_STRATEGIES.includes(aggregation)) {
    throw new PredictArgsError(
      `--aggregation must be one of ${AGGREGATION_STRATEGIES.join(", ")}, got "${v.aggregation}"`,
    );
  }
  const format = v.format ?? "json";
  if (format !== "json" && format !== "conll") {
    throw new PredictArgsError(`--format must be json or conll, got "${format}"`);
  }
  if (v["keep-columns"] && format !== "conll") {
    throw new PredictArgsError("--keep-columns needs --format conll");
  }
  const ignore = v["ignore-labels"];
  const word = v.word ?? "decoded";
  if (word !== "decoded" && word !== "slice") {
    throw new PredictArgsError(`--word must be decoded or slice, got "${word}"`);
  }
  return {
    word,
    allowUntrainedHead: v["allow-untrained-head"] ?? false,
    model: v.model ?? "",
    tokenizer: v.tokenizer,
    aggregation,
    format,
    keepColumns: v["keep-columns"] ?? false,
    stride: _int(v.stride, "--stride", 0),
    batchSize: _int(v["batch-size"], "--batch-size", 1),
    maxLength: _int(v["max-length"], "--max-length", 3),
    ignoreLabels: ignore === undefined ? undefined : ignore.split(",").map((s) => s.trim()).filter((s) => s),
    inputs: parsed.positionals,
    help,
  };
}

async function _readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

/** Runs the command: prints results to `write`; returns the exit code (2 for bad arguments). */
export async function runPredict(
  args: readonly string[],
  write: (s: string) => void = (s) => Deno.stdout.writeSync(new TextEncoder().encode(s)),
  readStdin: () => Promise<string> = _readStdin,
): Promise<number> {
  let opts: PredictArgs, prof;
  try {
    prof = profileFromArgs([...args]); // --profile / --profile-trace FILE (src/engine/profiler_cli.ts)
    opts = parsePredictArgs(prof.rest);
  } catch (e) {
    if (!(e instanceof PredictArgsError) && prof) throw e;
    console.error(`predict: ${(e as Error).message}\n${PREDICT_USAGE}`);
    return 2;
  }
  if (opts.help) {
    write(PREDICT_USAGE + "\n");
    return 0;
  }
  const ner = await pipeline("token-classification", {
    model: opts.model,
    tokenizer: opts.tokenizer,
    aggregationStrategy: opts.aggregation,
    stride: opts.stride,
    batchSize: opts.batchSize,
    maxLength: opts.maxLength,
    ignoreLabels: opts.ignoreLabels,
    word: opts.word,
    onLoad: (report) => checkLoadedHead(report, opts.model, opts.allowUntrainedHead),
  });
  // The only files predict writes are Hub downloads into the cache, all done by now: give up writing.
  if (!prof.enabled && Deno.permissions.querySync?.({ name: "write" }).state === "granted") {
    await Deno.permissions.revoke({ name: "write" });
  }
  prof.start();
  try {
    if (opts.format === "conll") {
      const texts = opts.inputs.length === 0
        ? [await readStdin()]
        : await Promise.all(opts.inputs.map((f) => f === "-" ? readStdin() : Deno.readTextFile(f)));
      for (const text of texts) {
        const sentences = parseConllInput(text);
        const tags = await ner.predictWords(sentences.map((s) => s.words));
        write(formatConll(sentences, tags, opts.keepColumns));
      }
    } else {
      let texts = opts.inputs;
      if (texts.length === 0) {
        texts = (await readStdin()).split(/\r?\n/);
        if (texts[texts.length - 1] === "") texts.pop();
      }
      const results = await ner.run(texts);
      for (const entities of results) write(JSON.stringify(entities) + "\n");
    }
    await prof.finish();
  } finally {
    ner.dispose();
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await runPredict(Deno.args));
  } catch (e) {
    console.error(`predict: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
