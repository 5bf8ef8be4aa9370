import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { parseConllevalArgs, runConlleval } from "../../src/metrics/cli.ts";
import { conllPath } from "./_conll.ts";

const CLI = new URL("../../src/metrics/cli.ts", import.meta.url).pathname;

/** Runs the conlleval command as `deno task conlleval` does; returns exit code, stdout and stderr. */
async function run(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", CLI, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const { code, stdout, stderr } = await child.output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

/** The validation file as conlleval input, gold repeated as the prediction. */
async function goldAsPrediction(): Promise<string> {
  const text = await Deno.readTextFile(conllPath("valid"));
  return text.split("\n").map((l) => (l.trim() === "" ? l : `${l} ${l.split(" ")[3]}`)).join("\n");
}

Deno.test("conlleval command on a file: validation gold against itself", async () => {
  const file = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(file, await goldAsPrediction());
    const r = await run([file]);
    assertEquals(r.code, 0, r.err);
    const lines = r.out.split("\n");
    assertEquals(lines[0], "processed 51362 tokens with 5942 phrases; found: 5942 phrases; correct: 5942.");
    assertEquals(lines[1], "accuracy: 100.00%; precision: 100.00%; recall: 100.00%; FB1: 100.00");
    assertEquals(lines[2], "              LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1837");
    const json = await run(["--json", file]);
    assertEquals(json.code, 0, json.err);
    const d = JSON.parse(json.out);
    assertEquals(Object.keys(d), [
      "LOC",
      "MISC",
      "ORG",
      "PER",
      "overall_precision",
      "overall_recall",
      "overall_f1",
      "overall_accuracy",
    ]);
    assertEquals(d.MISC, { precision: 1, recall: 1, f1: 1, number: 922 });
    assertEquals([d.overall_f1, d.overall_accuracy], [1, 1]);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("conlleval command reads stdin and reports bad input with the line number", async () => {
  const ok = await run(["--json", "--scheme", "IOB2"], "a I-PER I-PER\nb O O\n\nc B-LOC B-LOC\n");
  assertEquals(ok.code, 0, ok.err);
  // Strict IOB2: the I-PER without B-PER is no entity, so only LOC is scored.
  assertEquals(Object.keys(JSON.parse(ok.out))[0], "LOC");
  const bad = await run([], "a x B-PER B-PER\nb x O\n");
  assertEquals(bad.code, 1);
  assert(bad.err.includes("stdin: line 2: expected 4 columns (as on line 1), found 3"), bad.err);
  const missing = await run(["/nonexistent/file.txt"]);
  assertEquals(missing.code, 1);
  assert(missing.err.includes("/nonexistent/file.txt"), missing.err);
  const usage = await run(["--frobnicate"]);
  assertEquals(usage.code, 2);
  assert(usage.err.includes("unknown option --frobnicate"), usage.err);
});

Deno.test("argument parsing and in-process run", () => {
  assertEquals(parseConllevalArgs(["-r", "-o", "NONE", "f.txt"]), {
    json: false,
    raw: true,
    help: false,
    oTag: "NONE",
    file: "f.txt",
  });
  assertThrows(() => parseConllevalArgs(["-d"]), Error, "-d requires a value");
  assertThrows(() => parseConllevalArgs(["a", "b"]), Error, "only one file");
  assertThrows(() => parseConllevalArgs(["--scheme", "IOX"]), Error, "--scheme must be one of");
  assertEquals(
    runConlleval("a B-PER B-PER\n", { json: false, raw: false, help: false }),
    "processed 1 tokens with 1 phrases; found: 1 phrases; correct: 1.\n" +
      "accuracy: 100.00%; precision: 100.00%; recall: 100.00%; FB1: 100.00\n" +
      "              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n",
  );
});
