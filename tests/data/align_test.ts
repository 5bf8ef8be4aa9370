import { assertEquals, assertThrows } from "../_assert.ts";
import { alignLabelsWithTokens, continuationLabels, IGNORE_INDEX } from "../../src/data/align.ts";
import { CONLL2003_NER_NAMES } from "../../src/data/conll2003.ts";

const EU_WORD_IDS = [null, 0, 1, 2, 3, 4, 5, 6, 7, 7, 8, null];

Deno.test("align: the course's example gives [-100,3,0,7,0,0,0,7,0,0,0,-100]", () => {
  const aligned = alignLabelsWithTokens([3, 0, 7, 0, 0, 0, 7, 0, 0], EU_WORD_IDS, CONLL2003_NER_NAMES);
  assertEquals(Array.from(aligned), [-100, 3, 0, 7, 0, 0, 0, 7, 0, 0, 0, -100]);
  assertEquals(IGNORE_INDEX, -100);
});

Deno.test("align: continuation subtokens turn B-X into I-X; I-X and O stay; first-subtoken-only gives -100", () => {
  // "Blackburn" split in three: B-PER then I-PER I-PER; a two-piece B-LOC word; an O word in two pieces.
  const wordIds = [null, 0, 0, 0, 1, 1, 2, 2, null];
  const labels = [1, 5, 0]; // B-PER, B-LOC, O
  assertEquals(Array.from(alignLabelsWithTokens(labels, wordIds, CONLL2003_NER_NAMES)), [
    -100,
    1,
    2,
    2,
    5,
    6,
    0,
    0,
    -100,
  ]);
  const first = alignLabelsWithTokens(labels, wordIds, CONLL2003_NER_NAMES, { firstSubtokenOnly: true });
  assertEquals(Array.from(first), [-100, 1, -100, -100, 5, -100, 0, -100, -100]);
  assertEquals(Array.from(alignLabelsWithTokens([2], [null, 0, 0, null], CONLL2003_NER_NAMES)), [
    -100,
    2,
    2,
    -100,
  ]);
});

Deno.test("align: uses names, not label % 2 — works for a tag set where % 2 would be wrong", () => {
  const names = ["B-ORG", "I-ORG", "O", "B-PER", "I-PER"]; // B- ids are even here
  assertEquals(Array.from(continuationLabels(names)), [1, 1, 2, 4, 4]);
  const aligned = alignLabelsWithTokens([0, 3], [null, 0, 0, 1, 1, null], names);
  assertEquals(Array.from(aligned), [-100, 0, 1, 3, 4, -100]);
  // IOBES: S-X and E-X have no B- prefix and are repeated as they are.
  const iobes = ["O", "S-X", "B-X", "I-X", "E-X"];
  assertEquals(Array.from(alignLabelsWithTokens([1, 4], [0, 0, 1, 1], iobes)), [1, 1, 4, 4]);
});

Deno.test("align: a split B-X word without an I-X name, and out-of-range labels, are errors", () => {
  assertThrows(() => alignLabelsWithTokens([1], [0, 0], ["O", "B-X"]), Error, 'no "I-X"');
  assertEquals(Array.from(alignLabelsWithTokens([1], [0], ["O", "B-X"])), [1]); // unsplit: fine
  assertThrows(() => alignLabelsWithTokens([9], [0], CONLL2003_NER_NAMES), RangeError, "not a class id 0..8");
});
