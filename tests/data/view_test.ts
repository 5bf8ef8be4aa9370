import { assertEquals, assertThrows } from "../_assert.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { decodeTags } from "../../src/data/dataset.ts";
import { alignColumns, labelCells } from "../../src/data/view.ts";

const raw = await loadConll2003();

Deno.test("view: the course's two-line print of train[0] and train[4]", () => {
  assertEquals(alignColumns(raw.train.rows[0].tokens, decodeTags(raw.train, 0, "ner_tags")), [
    "EU    rejects German call to boycott British lamb .",
    "B-ORG O       B-MISC O    O  O       B-MISC  O    O",
  ]);
  const [, labels] = alignColumns(raw.train.rows[4].tokens, decodeTags(raw.train, 4, "ner_tags"));
  assertEquals(
    labels,
    "B-LOC   O  O              O  O   B-ORG    I-ORG O  O          O         B-PER  I-PER     O    O  O         O" +
      "         O      O   O         O    O         O     O    B-LOC   O     O   O          O      O   O       O",
  );
});

Deno.test("view: label cells show -100 for ignored positions; mismatched rows throw", () => {
  assertEquals(labelCells([-100, 3, 0], ["O", "B-PER", "I-PER", "B-ORG"]), ["-100", "B-ORG", "O"]);
  assertThrows(() => alignColumns(["a"], []), RangeError);
});
