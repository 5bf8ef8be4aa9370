import { assertEquals, assertThrows } from "../_assert.ts";
import {
  conlleval,
  conllevalCounts,
  formatConllevalReport,
  parseConllevalInput,
} from "../../src/metrics/conlleval.ts";
import { getEntities } from "../../src/metrics/chunks.ts";
import { perturbNer, readConll } from "./_conll.ts";

/** conlleval input lines for the validation set with `pred` as the guesses. */
async function validInput(pred?: string[][]): Promise<string> {
  const valid = await readConll("valid");
  const lines: string[] = [];
  valid.forEach((s, i) => {
    s.tokens.forEach((t, j) =>
      lines.push(`${t} ${s.pos[j]} ${s.chunk[j]} ${s.ner[j]} ${(pred ?? valid.map((x) => x.ner))[i][j]}`)
    );
    lines.push("");
  });
  return lines.join("\n");
}

Deno.test("report format on a small hand-worked input", () => {
  const yTrue = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
  const yPred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
  // 10 tokens, 8 tags right; MISC found at the wrong start, PER right.
  assertEquals(
    conlleval(yTrue, yPred),
    "processed 10 tokens with 2 phrases; found: 2 phrases; correct: 1.\n" +
      "accuracy:  80.00%; precision:  50.00%; recall:  50.00%; FB1:  50.00\n" +
      "             MISC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n" +
      "              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n",
  );
});

Deno.test("validation gold against itself: 51362 tokens, 5942 phrases, all correct", async () => {
  const c = conllevalCounts(parseConllevalInput(await validInput()).rows);
  assertEquals([c.tokens, c.foundCorrect, c.foundGuessed, c.correctChunk, c.correctTags], [
    51362,
    5942,
    5942,
    5942,
    51362,
  ]);
  assertEquals([...c.types.keys()], ["LOC", "MISC", "ORG", "PER"]);
});

Deno.test("perturbed validation set: the report conlleval.pl prints, and seqeval's counts agree", async () => {
  const valid = await readConll("valid");
  const pred = perturbNer(valid);
  const text = await validInput(pred);
  // Output of conlleval.pl (version 2004-01-26; its non-LaTeX path retyped from the public script) run
  // with Perl 5.36 on this same input.
  assertEquals(
    formatConllevalReport(conllevalCounts(parseConllevalInput(text).rows)),
    [
      "processed 51362 tokens with 5942 phrases; found: 9384 phrases; correct: 5002.",
      "accuracy:  91.21%; precision:  53.30%; recall:  84.18%; FB1:  65.27",
      "              LOC: precision:  57.68%; recall:  86.06%; FB1:  69.07  2741",
      "             MISC: precision:  23.60%; recall:  85.68%; FB1:  37.00  3348",
      "              ORG: precision:  83.11%; recall:  84.04%; FB1:  83.57  1356",
      "              PER: precision:  77.57%; recall:  81.65%; FB1:  79.56  1939",
      "",
    ].join("\n"),
  );
  const gold = new Set(getEntities(valid.map((s) => s.ner)).map((e) => e.join()));
  const found = getEntities(pred);
  assertEquals([found.length, found.filter((e) => gold.has(e.join())).length], [9384, 5002]);
});

Deno.test("conlleval's own chunk rules: S- is not a letter it knows", () => {
  // seqeval sees two single-token PER chunks; conlleval sees one phrase (same type, no B/I boundary).
  const c = conllevalCounts(parseConllevalInput("a S-PER S-PER\nb S-PER S-PER\n").rows);
  assertEquals([c.foundCorrect, c.foundGuessed, c.correctChunk], [1, 1, 1]);
  assertEquals(getEntities(["S-PER", "S-PER"]).length, 2);
  // [ and ] always delimit one-token phrases.
  const d = conllevalCounts(parseConllevalInput("a [ [\nb ] O\n").rows);
  assertEquals([d.foundCorrect, d.foundGuessed, d.correctChunk], [2, 1, 1]);
  // Phrases without a type: conlleval.pl's type de-duplication lets the empty name through twice.
  assertEquals(
    formatConllevalReport(d),
    "processed 2 tokens with 2 phrases; found: 1 phrases; correct: 1.\n" +
      "accuracy:  50.00%; precision: 100.00%; recall:  50.00%; FB1:  66.67\n" +
      "                 : precision: 100.00%; recall:  50.00%; FB1:  66.67  1\n".repeat(2),
  );
});

Deno.test("input handling: -DOCSTART- and -X- break sentences, raw mode, delimiter", () => {
  const input = parseConllevalInput(
    "-DOCSTART- -X- -X- O O\n\nA x B-PER B-PER\nB x I-PER O\n-X- -X- O O\nC x B-LOC B-LOC\n",
  );
  assertEquals(input.references, [["B-PER", "I-PER"], ["B-LOC"]]);
  assertEquals(input.predictions, [["B-PER", "O"], ["B-LOC"]]);
  assertEquals(input.rows.filter((r) => !r.boundary).map((r) => r.line), [3, 4, 6]);
  const raw = parseConllevalInput("a PER PER\nb PER NONE\nc NONE LOC\n", { raw: true, oTag: "NONE" });
  assertEquals(raw.references, [["B-PER", "B-PER", "O"]]);
  assertEquals(raw.predictions, [["B-PER", "O", "B-LOC"]]);
  assertEquals(conllevalCounts(raw.rows).correctChunk, 1);
  assertEquals(parseConllevalInput("a;B-PER;B-PER\r\n", { delimiter: ";" }).references, [["B-PER"]]);
});

Deno.test("malformed input: errors carry the line number", () => {
  assertThrows(
    () => parseConllevalInput("a x B-PER B-PER\nb I-PER O\n"),
    SyntaxError,
    "line 2: expected 4 columns (as on line 1), found 3",
  );
  assertThrows(() => parseConllevalInput("\n\nB-PER\n"), SyntaxError, "line 3: expected at least 2 columns");
  assertThrows(() => conlleval([["O"]], [["O", "O"]]), RangeError, "sequence 0");
});
