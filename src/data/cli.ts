/**
 * `deno task data`: inspect a dataset the way the course does.
 *
 *     deno task data [--dataset conll2003|PATH] [--split train] [--label-column ner_tags] [--index N]
 *                    [--tokenize] [--jsonl] [--first-subtoken-only] [--tokenizer DIR] [--max-length N]
 *                    [--label-names O,B-PER,...]
 *
 * `--index N` prints words over labels (with `--tokenize`: subword tokens over aligned labels); `--jsonl`
 * prints one JSON object per sentence of the split with `id`, `tokens`, the label column, `input_ids`,
 * `word_ids` and the aligned `labels`.
 * @module
 */
import { parseArgs } from "node:util";
import { alignLabelsWithTokens, continuationLabels } from "./align.ts";
import { decodeTags, labelNames, type TokenDataset } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { loadDataset } from "./load.ts";
import { loadTokenizer, type WordTokenizer } from "./tokenizer.ts";
import { alignColumns, labelCells } from "./view.ts";

const _USAGE = `usage: deno task data [options]
  --dataset NAME|PATH     conll2003 (default, shipped), a save_to_disk or datasets-cache folder,
                          a .jsonl file, a .arrow file or a CoNLL-style file
  --split NAME            split to inspect (default train)
  --label-column NAME     tag column (default ner_tags)
  --label-names A,B,...   label names for a JSON Lines label column holding class ids
  --index N               print sentence N: words over labels (default 0)
  --tokenize              with --index: subword tokens over their aligned labels
  --jsonl                 print every sentence of the split as JSON lines
  --first-subtoken-only   align labels to first subtokens only (others -100)
  --tokenizer DIR         folder with tokenizer.json (default: shipped bert-base-cased)
  --max-length N          truncation length (default model_max_length or 512)
  --help                  this text`;

/** Parsed command-line options. */
interface _Args {
  dataset: string;
  split: string;
  labelColumn: string;
  labelNames?: string[];
  index: number;
  tokenize: boolean;
  jsonl: boolean;
  firstSubtokenOnly: boolean;
  tokenizer?: string;
  maxLength?: number;
  help: boolean;
}

function _integer(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min) throw new Error(`${flag} needs an integer >= ${min}, got "${value}"`);
  return n;
}

function _parse(args: string[]): _Args {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      dataset: { type: "string", default: "conll2003" },
      split: { type: "string", default: "train" },
      "label-column": { type: "string", default: "ner_tags" },
      "label-names": { type: "string" },
      index: { type: "string" },
      tokenize: { type: "boolean", default: false },
      jsonl: { type: "boolean", default: false },
      "first-subtoken-only": { type: "boolean", default: false },
      tokenizer: { type: "string" },
      "max-length": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  return {
    dataset: values.dataset!,
    split: values.split!,
    labelColumn: values["label-column"]!,
    labelNames: values["label-names"]?.split(","),
    index: _integer(values.index, "--index", 0) ?? 0,
    tokenize: values.tokenize!,
    jsonl: values.jsonl!,
    firstSubtokenOnly: values["first-subtoken-only"]!,
    tokenizer: values.tokenizer,
    maxLength: _integer(values["max-length"], "--max-length", 3),
    help: values.help!,
  };
}

/** The two-line view of one sentence (words, or subword tokens with `tokenize`). */
function _view(dataset: TokenDataset, args: _Args, tokenizer: WordTokenizer | null): string {
  const row = dataset.rows[args.index];
  if (!row) {
    throw new RangeError(
      `--index ${args.index} is out of range: ${dataset.split} has ${dataset.rows.length} rows`,
    );
  }
  if (!tokenizer) {
    return alignColumns(row.tokens, decodeTags(dataset, args.index, args.labelColumn)).join("\n");
  }
  const names = labelNames(dataset, args.labelColumn);
  const encoding = tokenizer.encodeWords(row.tokens, { maxLength: args.maxLength });
  const labels = alignLabelsWithTokens(row.tags[args.labelColumn], encoding.wordIds, names, args);
  return alignColumns(encoding.tokens, labelCells(labels, names)).join("\n");
}

async function _writeAll(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let done = 0; done < bytes.length;) done += await Deno.stdout.write(bytes.subarray(done));
}

/** Prints every sentence of the split as a JSON line. */
async function _jsonl(dataset: TokenDataset, args: _Args, tokenizer: WordTokenizer): Promise<void> {
  const names = labelNames(dataset, args.labelColumn);
  const continuation = continuationLabels(names);
  let chunk: string[] = [];
  for (const row of dataset.rows) {
    const encoding = tokenizer.encodeWords(row.tokens, { maxLength: args.maxLength });
    const tags = row.tags[args.labelColumn];
    const labels = alignLabelsWithTokens(tags, encoding.wordIds, names, args, continuation);
    chunk.push(JSON.stringify({
      id: row.id,
      tokens: row.tokens,
      [args.labelColumn]: tags,
      input_ids: Array.from(encoding.inputIds),
      word_ids: encoding.wordIds,
      labels: Array.from(labels),
    }));
    if (chunk.length === 1000) {
      await _writeAll(chunk.join("\n") + "\n");
      chunk = [];
    }
  }
  if (chunk.length) await _writeAll(chunk.join("\n") + "\n");
}

/** Runs the command with the given arguments; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let args: _Args;
  try {
    args = _parse(argv);
  } catch (error) {
    console.error(`${(error as Error).message}\n${_USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(_USAGE);
    return 0;
  }
  try {
    const jsonl = args.labelNames ? { labelNames: { [args.labelColumn]: args.labelNames } } : undefined;
    const dict = await loadDataset(args.dataset, { split: args.split, jsonl });
    const dataset = dict[args.split];
    if (!dataset) {
      throw new Error(`no split "${args.split}"; ${args.dataset} has ${Object.keys(dict).join(", ")}`);
    }
    labelNames(dataset, args.labelColumn);
    const tokenizer = args.tokenize || args.jsonl
      ? await loadTokenizer(args.tokenizer, { addPrefixSpace: "auto" }) // as run_ner.py for pre-split words
      : null;
    if (args.jsonl) await _jsonl(dataset, args, tokenizer!);
    else console.log(_view(dataset, args, tokenizer));
    return 0;
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) return 0; // e.g. piped into `head`
    if (error instanceof Error) {
      console.error(`${error instanceof DataError ? "data error" : "error"}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
