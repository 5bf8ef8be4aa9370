// `deno task predict`: argument parsing and pre-split input (pure), then the command itself on the parity
// fixture model (JSON lines for arguments and stdin, CoNLL in and out, bad flags).
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { parsePredictArgs, PredictArgsError } from "../../src/pipeline/cli.ts";
import { formatConll, parseConllInput } from "../../src/pipeline/mod.ts";

const CLI = new URL("../../src/pipeline/cli.ts", import.meta.url).pathname;
const DIR = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;

/** Runs the command with the permissions of `deno task predict`. */
async function run(args: string[], stdin = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "--allow-net", CLI, ...args],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const out = await child.output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("cli: arguments parse with defaults (simple, json) and bad ones are named", () => {
  const a = parsePredictArgs(["--model", "m", "a text", "--stride", "8", "--ignore-labels", ""]);
  assertEquals([a.model, a.aggregation, a.format, a.stride, a.inputs, a.ignoreLabels], [
    "m",
    "simple",
    "json",
    8,
    ["a text"],
    [],
  ]);
  assertEquals(
    parsePredictArgs(["--model=m", "--aggregation", "max", "--format", "conll"]).aggregation,
    "max",
  );
  assertThrows(() => parsePredictArgs(["x"]), PredictArgsError, "--model is required");
  assertThrows(
    () => parsePredictArgs(["--model", "m", "--aggregation", "mean"]),
    PredictArgsError,
    "none, simple",
  );
  assertThrows(
    () => parsePredictArgs(["--model", "m", "--format", "xml"]),
    PredictArgsError,
    "json or conll",
  );
  assertThrows(() => parsePredictArgs(["--model", "m", "--stride", "-1"]), PredictArgsError, "--stride");
  assertThrows(
    () => parsePredictArgs(["--model", "m", "--batch-size", "0"]),
    PredictArgsError,
    "--batch-size",
  );
  assertThrows(
    () => parsePredictArgs(["--model", "m", "--keep-columns"]),
    PredictArgsError,
    "--format conll",
  );
  assertThrows(() => parsePredictArgs(["--model", "m", "--frobnicate"]), PredictArgsError, "frobnicate");
  assertEquals(parsePredictArgs(["--help"]).help, true);
});

Deno.test("cli: pre-split input — first column, blank lines between sentences, -DOCSTART- passed through", () => {
  const input = "-DOCSTART- -X- O\n\nEU NNP B-ORG\nrejects VBZ O\n\n\n  Peter\t B-PER \r\nBlackburn\n";
  const s = parseConllInput(input);
  assertEquals(s.map((x) => [x.docstart, x.words]), [[true, []], [false, ["EU", "rejects"]], [false, [
    "Peter",
    "Blackburn",
  ]]]);
  const tags = [[], ["B-ORG", "O"], ["B-PER", "I-PER"]];
  assertEquals(
    formatConll(s, tags),
    "-DOCSTART- O\n\nEU B-ORG\nrejects O\n\nPeter B-PER\nBlackburn I-PER\n\n",
  );
  assert(formatConll(s, tags, true).startsWith("-DOCSTART- -X- O O\n\nEU NNP B-ORG B-ORG\n"));
});

Deno.test("cli: one JSON line per text argument, per stdin line without arguments", async () => {
  const texts = [
    "My name is Sylvain and I work at Hugging Face in Brooklyn.",
    "",
    "Zoë  went\tto São Paulo!",
  ];
  const out = await run([
    "--model",
    DIR,
    "--ignore-labels",
    "",
    "--aggregation",
    "first",
    "--word",
    "slice",
    ...texts,
  ]);
  assertEquals(out.code, 0, out.stderr);
  const lines = out.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assertEquals(lines.length, 3);
  assertEquals(lines[1], []);
  lines.forEach((entities, i) => {
    for (const e of entities) {
      assertEquals(Object.keys(e), ["entity_group", "score", "word", "start", "end"]);
      assertEquals(texts[i].slice(e.start, e.end), e.word);
    }
  });
  const piped = await run(
    ["--model", DIR, "--ignore-labels", "", "--aggregation", "first", "--word", "slice"],
    texts.join("\n") + "\n",
  );
  assertEquals(piped.stdout, out.stdout);
  const none = await run(["--model", DIR, "--aggregation", "none", "--ignore-labels", ""], "Hugging Face\n");
  assertEquals(JSON.parse(none.stdout).map((e: { word: string; index: number }) => [e.word, e.index]), [
    ["Hu", 1],
    ["##gging", 2],
    ["Face", 3],
  ]);
});

Deno.test("cli: --format conll prints 'token tag' for every token of a CoNLL file, sentences kept", async () => {
  const tmp = await Deno.makeTempFile({ suffix: ".conll" });
  const input =
    "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\nPeter NNP B-NP B-PER\n";
  await Deno.writeTextFile(tmp, input);
  const out = await run(["--model", DIR, "--format", "conll", tmp]);
  await Deno.remove(tmp);
  assertEquals(out.code, 0, out.stderr);
  const lines = out.stdout.split("\n");
  assertEquals(lines.map((l) => l.split(" ")[0]), [
    "-DOCSTART-",
    "",
    "EU",
    "rejects",
    "German",
    "",
    "Peter",
    "",
    "",
  ]);
  const labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];
  for (const l of lines.filter((l) => l && !l.startsWith("-DOCSTART-"))) {
    assert(labels.includes(l.split(" ")[1]) && l.split(" ").length === 2, l);
  }
  const piped = await run(["--model", DIR, "--format", "conll", "--keep-columns"], input);
  assert(piped.stdout.includes("\nEU NNP B-NP B-ORG "), piped.stdout);
});

Deno.test("cli: bad flags print the error and the help, exit 2; a missing model exits 1", async () => {
  const bad = await run(["--model", DIR, "--aggregation", "mean", "x"]);
  assertEquals(bad.code, 2);
  assert(
    bad.stderr.includes("--aggregation must be one of") && bad.stderr.includes("usage: deno task predict"),
  );
  const unknown = await run(["--modle", DIR]);
  assertEquals(unknown.code, 2);
  assert(unknown.stderr.includes("modle"), unknown.stderr);
  const help = await run(["--help"]);
  assertEquals(help.code, 0);
  assert(help.stdout.startsWith("usage: deno task predict"));
  const missing = await run(["--model", "/nonexistent/model-dir-xyz", "x"]);
  assertEquals(missing.code, 1);
  assert(missing.stderr.startsWith("predict: "), missing.stderr);
});
