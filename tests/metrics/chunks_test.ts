import { assertEquals, assertThrows } from "../_assert.ts";
import { ChunkStream, getEntities, parseTag } from "../../src/metrics/chunks.ts";
import { resetWarnings } from "../../src/metrics/warnings.ts";

/** Runs `fn` with console.warn captured; returns the messages. */
function captureWarnings(fn: () => void): string[] {
  const seen: string[] = [];
  const orig = console.warn;
  console.warn = (...args: unknown[]) => void seen.push(args.join(" "));
  try {
    fn();
  } finally {
    console.warn = orig;
  }
  return seen;
}

Deno.test("getEntities: seqeval's documented example", () => {
  assertEquals(getEntities(["B-PER", "I-PER", "O", "B-LOC"]), [["PER", 0, 1], ["LOC", 3, 3]]);
});

Deno.test("lenient rules: I- after O starts a chunk", () => {
  assertEquals(getEntities(["O", "I-PER", "I-PER", "O"]), [["PER", 1, 2]]);
  assertEquals(getEntities(["I-LOC"]), [["LOC", 0, 0]]);
});

Deno.test("lenient rules: a type switch ends one chunk and starts another", () => {
  assertEquals(getEntities(["B-PER", "I-PER", "I-LOC", "I-LOC"]), [["PER", 0, 1], ["LOC", 2, 3]]);
  assertEquals(getEntities(["B-PER", "B-LOC"]), [["PER", 0, 0], ["LOC", 1, 1]]);
});

Deno.test("lenient rules: a trailing B- is a one-token chunk, B-B splits", () => {
  assertEquals(getEntities(["O", "O", "B-ORG"]), [["ORG", 2, 2]]);
  assertEquals(getEntities(["B-ORG", "B-ORG", "I-ORG"]), [["ORG", 0, 0], ["ORG", 1, 2]]);
});

Deno.test("lenient rules: IOBES letters and tags without a type", () => {
  assertEquals(getEntities(["S-PER", "B-LOC", "E-LOC", "E-LOC"]), [["PER", 0, 0], ["LOC", 1, 2], [
    "LOC",
    3,
    3,
  ]]);
  // A bare letter has type "_"; O never starts anything.
  assertEquals(getEntities(["B", "I", "O", "I"]), [["_", 0, 1], ["_", 3, 3]]);
});

Deno.test("sentences are joined with one O after each, positions counted over the join", () => {
  const sentences = [["B-PER", "I-PER"], ["I-PER", "O"], ["B-LOC"]];
  // Sentence 0 spans 0..1, its O is 2; sentence 1 starts at 3; the chunk does not run across the O.
  assertEquals(getEntities(sentences), [["PER", 0, 1], ["PER", 3, 3], ["LOC", 6, 6]]);
});

Deno.test("suffix mode reads the letter at the end", () => {
  assertEquals(getEntities(["PER-B", "PER-I", "O", "ORG-X-S"], { suffix: true }), [["PER", 0, 1], [
    "ORG-X",
    3,
    3,
  ]]);
  assertEquals(parseTag("ORG-X-S", true), { letter: "S", type: "ORG-X" });
});

Deno.test("parseTag splits like seqeval: type after the first dash of the remainder", () => {
  assertEquals(parseTag("B-ORG-X"), { letter: "B", type: "ORG-X" });
  assertEquals(parseTag("O"), { letter: "O", type: "_" });
  assertEquals(parseTag("I-"), { letter: "I", type: "_" });
  assertThrows(() => parseTag(""), TypeError, "non-empty");
});

Deno.test("tags that are not NE tags are warned about once each", () => {
  resetWarnings();
  const seen = captureWarnings(() => {
    getEntities(["PER", "O", "PER", "X-LOC"]);
    getEntities(["PER"]);
  });
  assertEquals(seen, ["PER seems not to be NE tag.", "X-LOC seems not to be NE tag."]);
});

Deno.test("ChunkStream reports chunks one step late and finish() closes the last one", () => {
  const s = new ChunkStream();
  assertEquals(s.push("B-PER"), undefined);
  assertEquals(s.push("I-PER"), undefined);
  assertEquals(s.push("B-LOC"), ["PER", 0, 1]);
  assertEquals(s.finish(), ["LOC", 2, 2]);
  assertEquals(s.position, 4);
});
