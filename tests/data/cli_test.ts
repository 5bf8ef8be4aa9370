import { assert, assertEquals } from "../_assert.ts";

const CLI = new URL("../../src/data/cli.ts", import.meta.url).pathname;

/** Runs the CLI with the permissions of `deno task data`. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
}

Deno.test("cli: --index prints words over labels, --tokenize subword tokens over aligned labels", async () => {
  const words = await run("--index", "0");
  assertEquals(
    words.stdout,
    "EU    rejects German call to boycott British lamb .\nB-ORG O       B-MISC O    O  O       B-MISC  O    O\n",
  );
  const tokens = await run("--index", "1", "--tokenize");
  assertEquals(tokens.stdout, "[CLS] Peter Blackburn [SEP]\n-100  B-PER I-PER     -100\n");
  const pos = await run("--index", "0", "--label-column", "pos_tags", "--split", "train");
  assertEquals(pos.stdout.split("\n")[1], "NNP VBZ     JJ     NN   TO VB      JJ      NN   .");
});

Deno.test("cli: --jsonl prints every sentence of the split with ids, word_ids and aligned labels", async () => {
  const out = await run("--jsonl", "--split", "test");
  assertEquals(out.code, 0);
  const lines = out.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assertEquals(lines.length, 3453);
  assertEquals(Object.keys(lines[0]), ["id", "tokens", "ner_tags", "input_ids", "word_ids", "labels"]);
  for (const line of lines) {
    assertEquals(line.input_ids.length, line.word_ids.length);
    assertEquals(line.labels.length, line.word_ids.length);
    assertEquals([line.word_ids[0], line.word_ids.at(-1)], [null, null]);
  }
  const first = await run("--jsonl", "--split", "test", "--first-subtoken-only");
  const firstLines = first.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  const labelled = firstLines.reduce((s, l) => s + l.labels.filter((x: number) => x !== -100).length, 0);
  assertEquals(labelled, 46435); // one label per word of the test split
});

Deno.test("cli: bad options and bad data exit non-zero with a clear message", async () => {
  const unknown = await run("--bogus");
  assertEquals(unknown.code, 2);
  assert(unknown.stderr.includes("usage: deno task data"));
  const range = await run("--index", "99999");
  assertEquals(range.code, 1);
  assert(range.stderr.includes("out of range: train has 14041 rows"), range.stderr);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.conll`, "a B-X\nb\n");
    const bad = await run("--dataset", `${dir}/bad.conll`);
    assertEquals(bad.code, 1);
    assertEquals(bad.stderr.trim(), `data error: ${dir}/bad.conll:2: expected 2 columns but found 1 in "b"`);
    const column = await run("--label-column", "nope");
    assert(
      column.stderr.includes("nope: no such tag column; the train split has pos_tags, chunk_tags, ner_tags"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
