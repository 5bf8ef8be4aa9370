import { assertEquals, assertThrows } from "../_assert.ts";
import { argmaxLastAxis, decodeSubwordLevel, decodeWordLevel, splitRows } from "../../src/metrics/decode.ts";

const NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"];

Deno.test("argmaxLastAxis: per row, first index on ties, NaN wins like np.argmax", () => {
  const logits = new Float32Array([
    0.1,
    0.9,
    0.3, // row 0 → 1
    2,
    2,
    1, // tie → 0
    -1,
    -3,
    -0.5, // → 2
    0,
    NaN,
    5, // NaN → 1
  ]);
  assertEquals([...argmaxLastAxis(logits, 3)], [1, 0, 2, 1]);
  assertThrows(() => argmaxLastAxis(logits, 5), RangeError, "not a multiple");
});

Deno.test("splitRows gives per-sequence views", () => {
  const rows = splitRows(new Int32Array([1, 2, 3, 4, 5, 6]), 3);
  assertEquals(rows.map((r) => [...r]), [[1, 2, 3], [4, 5, 6]]);
  rows[1][0] = 9; // a view, not a copy
  assertEquals(rows[1][0], 9);
  assertEquals(splitRows([1, 2, 3, 4], 2), [[1, 2], [3, 4]]);
});

// "[CLS] Hugging Face Inc . [SEP]" with "Hugging" split into 2 pieces:
// positions 0..6 = [CLS] Hug ##ging Face Inc . [SEP]; words 0..3 = Hugging Face Inc .
const WORD_IDS = [[null, 0, 0, 1, 2, 3, null]];
// The course's alignment: special tokens -100, later subtokens of a word get the I- tag.
const LABELS = [[-100, 3, 4, 4, 4, 0, -100]];
// The model splits "Hugging": B-ORG then O on "##ging".
const PREDS = [[0, 3, 0, 4, 4, 0, 1]];

Deno.test("subword level keeps every position whose label is not -100 (the course's postprocess)", () => {
  const d = decodeSubwordLevel(PREDS, LABELS, NAMES);
  assertEquals(d.references, [["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O"]]);
  assertEquals(d.predictions, [["B-ORG", "O", "I-ORG", "I-ORG", "O"]]);
});

Deno.test("word level reads each word at its first subtoken", () => {
  const d = decodeWordLevel(PREDS, WORD_IDS, NAMES, { labels: LABELS });
  assertEquals(d.references, [["B-ORG", "I-ORG", "I-ORG", "O"]]);
  assertEquals(d.predictions, [["B-ORG", "I-ORG", "I-ORG", "O"]]);
  // Int32Array word ids with -1 for special tokens work the same.
  const d2 = decodeWordLevel(PREDS, [Int32Array.from([-1, 0, 0, 1, 2, 3, -1])], NAMES, { labels: LABELS });
  assertEquals(d2, d);
});

Deno.test("word level with the original word tags scores truncated words as O", () => {
  // The sequence was cut after "Face": words 2 and 3 have no subtoken.
  const d = decodeWordLevel([[0, 3, 3, 4, 0]], [[null, 0, 0, 1, null]], NAMES, {
    references: [["B-ORG", "I-ORG", "I-ORG", "O"]],
  });
  assertEquals(d.predictions, [["B-ORG", "I-ORG", "O", "O"]]);
  assertEquals(d.references, [["B-ORG", "I-ORG", "I-ORG", "O"]]);
  assertEquals(d.unseenWords, 2);
});

Deno.test("decoding errors name sequence and position", () => {
  assertThrows(
    () => decodeSubwordLevel([[0, 7]], [[0, 1]], NAMES),
    RangeError,
    "sequence 0, position 1: predicted id 7",
  );
  assertThrows(
    () => decodeSubwordLevel([[0]], [[0, 1]], NAMES),
    RangeError,
    "sequence 0: predictions has 1 positions",
  );
  assertThrows(
    () => decodeSubwordLevel([[0]], [], NAMES),
    RangeError,
    "predictions has 1 sequences but labels has 0",
  );
  assertThrows(
    () => decodeWordLevel([[0, 0]], [[0, 5]], NAMES, { references: [["O", "O"]] }),
    RangeError,
    "sequence 0, position 1: word id 5",
  );
  assertThrows(() => decodeWordLevel([[0]], [[0]], NAMES, {}), Error, "exactly one of");
});
