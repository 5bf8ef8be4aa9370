/**
 * `deno task conlleval [options] [file]`: scores conlleval input (stdin when no file is given) and prints
 * conlleval's report, or with `--json` the seqeval/`evaluate` dict.
 *
 * Options: `--json`, `-r` (raw tags), `-o TAG` (outside tag for raw input), `-d DELIM` (column separator,
 * default whitespace), `--scheme IOB2|...` (with `--json`: seqeval strict mode), `-h`/`--help`.
 * @module
 */

import { conllevalCounts, formatConllevalReport, parseConllevalInput } from "./conlleval.ts";
import { type Scheme, SCHEMES } from "./schemes.ts";
import { seqeval } from "./seqeval.ts";

const _USAGE = `usage: deno task conlleval [--json] [-r] [-o TAG] [-d DELIM] [--scheme SCHEME] [FILE]
Reads conlleval input from FILE (or stdin): one token per line, the last two columns the gold and the
predicted tag, blank lines between sentences, -DOCSTART- lines ignored. Prints conlleval's report.
  --json           print the seqeval dict (per type P/R/F1/number, overall P/R/F1/accuracy) instead
  --scheme SCHEME  with --json, use seqeval strict mode with SCHEME (${SCHEMES.join(", ")})
  -r               raw tags: no B-/I- prefixes, every tagged token is a phrase
  -o TAG           outside tag of raw input (default O)
  -d DELIM         column separator (default: whitespace)
`;

/** Parsed command line. */
export interface ConllevalArgs {
  /** Input file; stdin when absent or `-`. */
  file?: string;
  /** `--json`: print the seqeval dict instead of the report. */
  json: boolean;
  /** `-r`: raw tags without B-/I- prefixes. */
  raw: boolean;
  /** `-o`: outside tag of raw input. */
  oTag?: string;
  /** `-d`: column separator (default whitespace). */
  delimiter?: string;
  /** `--scheme`: seqeval strict mode for `--json`. */
  scheme?: Scheme;
  /** `-h`/`--help`. */
  help: boolean;
}

/** Parses the command line; throws on an unknown option or a missing option value. */
export function parseConllevalArgs(args: readonly string[]): ConllevalArgs {
  const out: ConllevalArgs = { json: false, raw: false, help: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new Error(`${a} requires a value`);
      return args[++i];
    };
    if (a === "--json") out.json = true;
    else if (a === "-r") out.raw = true;
    else if (a === "-o") out.oTag = value();
    else if (a === "-d") out.delimiter = value();
    else if (a === "--scheme") {
      const s = value();
      if (!(SCHEMES as readonly string[]).includes(s)) {
        throw new Error(`--scheme must be one of ${SCHEMES.join(", ")}`);
      }
      out.scheme = s as Scheme;
    } else if (a === "-h" || a === "--help") out.help = true;
    else if (a.startsWith("-") && a !== "-") throw new Error(`unknown option ${a}`);
    else if (out.file !== undefined) throw new Error(`unexpected argument ${a} (only one file)`);
    else out.file = a;
  }
  return out;
}

/** Runs the command on already-read input and returns what it prints. */
export function runConlleval(text: string, args: ConllevalArgs): string {
  const input = parseConllevalInput(text, { raw: args.raw, oTag: args.oTag, delimiter: args.delimiter });
  if (args.json) {
    const result = seqeval(
      { predictions: input.predictions, references: input.references },
      args.scheme ? { mode: "strict", scheme: args.scheme } : {},
    );
    return JSON.stringify(result, null, 2) + "\n";
  }
  return formatConllevalReport(conllevalCounts(input.rows));
}

async function _main(): Promise<number> {
  let args: ConllevalArgs;
  try {
    args = parseConllevalArgs(Deno.args);
  } catch (e) {
    console.error(`conlleval: ${(e as Error).message}\n${_USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(_USAGE);
    return 0;
  }
  const source = args.file === undefined || args.file === "-" ? "stdin" : args.file;
  try {
    const text = source === "stdin"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(source);
    await Deno.stdout.write(new TextEncoder().encode(runConlleval(text, args)));
    return 0;
  } catch (e) {
    console.error(`conlleval: ${source}: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await _main());
