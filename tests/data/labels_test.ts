import { assertEquals, assertThrows } from "../_assert.ts";
import { labelIndex, sortLabelNames } from "../../src/data/labels.ts";

Deno.test("labels: collected names sort O first, then by type with B before I, independent of input order", () => {
  const conll = ["I-PER", "O", "B-MISC", "B-PER", "I-LOC", "B-ORG", "I-MISC", "B-LOC", "I-ORG", "O"];
  const expected = ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"];
  assertEquals(sortLabelNames(conll), expected);
  assertEquals(sortLabelNames([...conll].reverse()), expected);
  assertEquals(sortLabelNames(["S-X", "E-X", "I-X", "B-X", "O"]), ["O", "B-X", "I-X", "E-X", "S-X"]);
  assertEquals(sortLabelNames(["VBZ", "NN", "B-NP", "O"]), ["O", "B-NP", "NN", "VBZ"]);
});

Deno.test("labels: index maps names to ids and rejects duplicates", () => {
  assertEquals([...labelIndex(["O", "B-X"])], [["O", 0], ["B-X", 1]]);
  assertThrows(() => labelIndex(["O", "O"]), Error, "duplicate label name");
});
