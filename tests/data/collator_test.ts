import { assertEquals, assertThrows } from "../_assert.ts";
import { collate } from "../../src/data/collator.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { tokenizeAndAlign } from "../../src/data/prepare.ts";
import { loadTokenizer } from "../../src/data/tokenizer.ts";

const tokenizer = await loadTokenizer();
const raw = await loadConll2003();
const head = { ...raw.train, rows: raw.train.rows.slice(0, 2) };
const [eu, peter] = tokenizeAndAlign(head, tokenizer).examples;

/** Rows of a flat [batch, seq] array. */
const rows = (a: Int32Array, seq: number) =>
  Array.from({ length: a.length / seq }, (_, b) => Array.from(a.subarray(b * seq, (b + 1) * seq)));

Deno.test("collator: train[0] and train[1] pad to the course's label tensor", () => {
  const batch = collate([eu, peter], { padId: tokenizer.padId });
  assertEquals(batch.shape, [2, 12]);
  assertEquals(rows(batch.labels!, 12), [
    [-100, 3, 0, 7, 0, 0, 0, 7, 0, 0, 0, -100],
    [-100, 1, 2, -100, -100, -100, -100, -100, -100, -100, -100, -100],
  ]);
  assertEquals(rows(batch.inputIds, 12)[1], [101, 1943, 14428, 102, 0, 0, 0, 0, 0, 0, 0, 0]);
  assertEquals(rows(batch.attentionMask, 12), [new Array(12).fill(1), [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]]);
  assertEquals(Array.from(batch.tokenTypeIds), new Array(24).fill(0));
  assertEquals([Array.from(batch.lengths), Array.from(batch.rows)], [[12, 4], [0, 1]]);
});

Deno.test("collator: padToMultipleOf rounds the length up; a single example is padded too", () => {
  const batch = collate([peter, eu], { padId: 0, padToMultipleOf: 8 });
  assertEquals(batch.shape, [2, 16]);
  assertEquals(Array.from(batch.labels!.subarray(16 + 12)), [-100, -100, -100, -100]);
  assertEquals(
    collate([peter], { padId: 7, padToMultipleOf: 8 }).inputIds.slice(4).every((x) => x === 7),
    true,
  );
  assertThrows(() => collate([peter], { padId: 0, padToMultipleOf: 0 }), RangeError);
});

Deno.test("collator: unlabelled examples give labels null; mixing is an error; empty batch is an error", () => {
  const batch = collate([{ inputIds: [101, 102] }, { inputIds: [101, 5, 102] }], { padId: 0 });
  assertEquals([batch.labels, batch.shape], [null, [2, 3]]);
  assertEquals(Array.from(batch.rows), [0, 1]);
  assertThrows(() => collate([eu, { inputIds: [101, 102] }], { padId: 0 }), Error, "lacks labels");
  assertThrows(
    () => collate([{ inputIds: [1, 2], labels: [0] }], { padId: 0 }),
    Error,
    "1 labels for 2 tokens",
  );
  assertThrows(() => collate([], { padId: 0 }), RangeError);
});
