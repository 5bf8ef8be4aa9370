import { assertEquals, assertThrows } from "../_assert.ts";
import { NerEvaluator } from "../../src/metrics/evaluator.ts";
import { seqeval } from "../../src/metrics/seqeval.ts";

const NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"];

// Two sequences: "[CLS] Hug ##ging Face [SEP]" (ORG) and "[CLS] Sylvain Gugger [SEP] [PAD]" (PER).
const BATCH = {
  predictions: [[0, 3, 0, 4, 0], [0, 1, 2, 0, 0]],
  labels: [[-100, 3, 4, 4, -100], [-100, 1, 2, -100, -100]],
  wordIds: [[null, 0, 0, 1, null], [null, 0, 1, null, null]],
};

Deno.test("NerEvaluator reports word level as the headline and subword level beside it", () => {
  const ev = new NerEvaluator(NAMES);
  ev.addBatch({
    predictions: [BATCH.predictions[0]],
    labels: [BATCH.labels[0]],
    wordIds: [BATCH.wordIds[0]],
  });
  ev.addBatch({
    predictions: [BATCH.predictions[1]],
    labels: [BATCH.labels[1]],
    wordIds: [BATCH.wordIds[1]],
  });
  const r = ev.compute();
  // Word level: "Hugging Face" read at first subtokens is B-ORG I-ORG: all right.
  assertEquals(r.word!.overall_f1, 1);
  assertEquals(r.headline, r.word);
  // Subword level: the O on "##ging" splits the ORG into "Hug" and "Face" chunks: 1 of 3 predicted right...
  const expected = seqeval({
    references: [["B-ORG", "I-ORG", "I-ORG"], ["B-PER", "I-PER"]],
    predictions: [["B-ORG", "O", "I-ORG"], ["B-PER", "I-PER"]],
  });
  assertEquals(r.subword, expected);
  assertEquals(r.subword.overall_precision, 1 / 3);
  assertEquals(r.subwordReport.tokens, 5);
  assertEquals(r.wordReport!.tokens, 4);
});

Deno.test("NerEvaluator without word ids has only the subword view; mixing is refused", () => {
  const ev = new NerEvaluator(NAMES);
  ev.addBatch({ predictions: BATCH.predictions, labels: BATCH.labels });
  assertThrows(() => ev.addBatch(BATCH), Error, "earlier batches had no wordIds");
  const r = ev.compute();
  assertEquals(r.word, undefined);
  assertEquals(r.headline, r.subword);
  assertEquals(r.subwordReport.sentences, 2);
});
