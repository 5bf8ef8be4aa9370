import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  accuracyScore,
  classificationReport,
  entityReport,
  f1Score,
  precisionScore,
  recallScore,
  seqeval,
  SeqevalMetric,
} from "../../src/metrics/seqeval.ts";
import { getEntities } from "../../src/metrics/chunks.ts";
import { resetWarnings } from "../../src/metrics/warnings.ts";
import { perturbNer, readConll } from "./_conll.ts";

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

function captureWarnings<T>(fn: () => T): [T, string[]] {
  const seen: string[] = [];
  const orig = console.warn;
  console.warn = (...args: unknown[]) => void seen.push(args.join(" "));
  try {
    return [fn(), seen];
  } finally {
    console.warn = orig;
  }
}

Deno.test("the course's example: train[0] with tag 2 set to O", async () => {
  const [first] = await readConll("train");
  assertEquals(first.tokens.join(" "), "EU rejects German call to boycott British lamb .");
  const labels = first.ner;
  const predictions = [...labels];
  predictions[2] = "O";
  const r = seqeval({ predictions: [predictions], references: [labels] });
  assertEquals(Object.keys(r), [
    "MISC",
    "ORG",
    "overall_precision",
    "overall_recall",
    "overall_f1",
    "overall_accuracy",
  ]);
  const misc = r.MISC as { precision: number; recall: number; f1: number; number: number };
  assertEquals([misc.precision, misc.recall, round4(misc.f1), misc.number], [1, 0.5, 0.6667, 2]);
  assertEquals(r.ORG, { precision: 1, recall: 1, f1: 1, number: 1 });
  assertEquals(r.overall_precision, 1);
  assertEquals(round4(r.overall_recall), 0.6667);
  assertEquals(r.overall_f1, 0.8);
  assertEquals(round4(r.overall_accuracy), 0.8889);
  assertEquals(r.overall_accuracy, 8 / 9);
});

Deno.test("CoNLL-2003 validation gold against itself: 5942 entities, every F1 = 1", async () => {
  const valid = await readConll("valid");
  assertEquals(valid.length, 3250);
  const refs = valid.map((s) => s.ner);
  const r = entityReport(refs, refs);
  assertEquals(r.micro.support, 5942);
  assertEquals(r.classes.map((c) => [c.name, c.support]), [["LOC", 1837], ["MISC", 922], ["ORG", 1341], [
    "PER",
    1842,
  ]]);
  for (const c of [...r.classes, r.micro, r.macro, r.weighted]) {
    assertEquals([c.precision, c.recall, c.f1], [1, 1, 1]);
  }
  assertEquals(r.accuracy, 1);
  assertEquals(r.tokens, 51362);
  // Strict IOB2 agrees on well-formed gold.
  assertEquals(entityReport(refs, refs, { mode: "strict", scheme: "IOB2" }).micro.support, 5942);
});

Deno.test("scores on a perturbed validation set match seqeval 1.2.2", async () => {
  const valid = await readConll("valid");
  const refs = valid.map((s) => s.ner);
  const preds = perturbNer(valid);
  const r = entityReport(refs, preds);
  // Reference values: seqeval 1.2.2's code (retyped from its public source, as pip could not reach PyPI
  // here) run in Python with NumPy 2.4 on the same input; the text is its classification_report(digits=4).
  assertEquals(
    [r.micro.precision, r.micro.recall, r.micro.f1],
    [0.5330349531116795, 0.8418041063614945, 0.6527469659402323],
  );
  assertEquals(
    [r.macro.precision, r.macro.recall, r.macro.f1],
    [0.6048842642766175, 0.8435991806211913, 0.6730045488287506],
  );
  assertEquals(
    [r.weighted.precision, r.weighted.recall, r.weighted.f1],
    [0.6429530218041153, 0.8418041063614945, 0.7061789034407885],
  );
  assertEquals(r.accuracy, 0.912133483898602);
  assertEquals(r.classes.map((c) => c.f1), [
    0.690694626474443,
    0.3700234192037471,
    0.8357434186132738,
    0.7955567310235387,
  ]);
  assertEquals(
    classificationReport(refs, preds, { digits: 4 }),
    [
      "              precision    recall  f1-score   support",
      "",
      "         LOC     0.5768    0.8606    0.6907      1837",
      "        MISC     0.2360    0.8568    0.3700       922",
      "         ORG     0.8311    0.8404    0.8357      1341",
      "         PER     0.7757    0.8165    0.7956      1842",
      "",
      "   micro avg     0.5330    0.8418    0.6527      5942",
      "   macro avg     0.6049    0.8436    0.6730      5942",
      "weighted avg     0.6430    0.8418    0.7062      5942",
      "",
    ].join("\n"),
  );
  const strict = entityReport(refs, preds, { mode: "strict", scheme: "IOB2" });
  assertEquals(
    [strict.micro.precision, strict.micro.recall, strict.micro.f1],
    [0.6223715316660445, 0.8418041063614945, 0.7156448959153014],
  );
});

Deno.test("counts follow from the entity sets (independent recount on the perturbed set)", async () => {
  const valid = await readConll("valid");
  const refs = valid.map((s) => s.ner);
  const preds = perturbNer(valid);
  const key = (e: [string, number, number]) => e.join(":");
  const gold = new Set(getEntities(refs).map(key));
  const pred = getEntities(preds).map(key);
  const correct = pred.filter((k) => gold.has(k)).length;
  const r = entityReport(refs, preds);
  assertEquals(r.micro.precision, correct / pred.length);
  assertEquals(r.micro.recall, correct / gold.size);
  assertEquals(r.classes.reduce((s, c) => s + c.predicted, 0), pred.length);
});

Deno.test("incremental addBatch/compute equals the one-shot result, and compute resets", async () => {
  const valid = await readConll("valid");
  const refs = valid.map((s) => s.ner);
  const preds = perturbNer(valid);
  for (
    const options of [{}, { mode: "strict" as const, scheme: "IOB2" as const }, { mode: "strict" as const }]
  ) {
    const whole = seqeval({ predictions: preds, references: refs }, options);
    const m = new SeqevalMetric(options);
    for (let i = 0; i < refs.length; i += 97) {
      m.addBatch({ predictions: preds.slice(i, i + 97), references: refs.slice(i, i + 97) });
    }
    assertEquals(m.sentences, refs.length);
    assertEquals(m.compute(), whole);
    assertEquals(m.sentences, 0);
    assertThrows(() => m.compute(), RangeError, "no tokens");
  }
});

Deno.test("strict mode differs from default on ill-formed chunks", () => {
  const refs = [["B-PER", "I-PER", "O", "B-LOC"]];
  const preds = [["I-PER", "I-PER", "O", "B-LOC"]];
  // Default mode reads I-PER I-PER as a PER chunk [0, 1] and counts it correct; IOB2 strict finds no PER.
  assertEquals(f1Score(refs, preds), 1);
  const strict = entityReport(refs, preds, { mode: "strict", scheme: "IOB2", zeroDivision: 0 });
  assertEquals(strict.classes.map((c) => [c.name, c.correct, c.predicted, c.actual]), [["LOC", 1, 1, 1], [
    "PER",
    0,
    0,
    1,
  ]]);
  // As in seqeval, a scheme without mode "strict" is ignored.
  assertEquals(entityReport(refs, preds, { scheme: "IOB2" }).micro.f1, 1);
});

Deno.test("seqeval's documented classification_report output", () => {
  const yTrue = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
  const yPred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
  assertEquals(
    classificationReport(yTrue, yPred),
    "              precision    recall  f1-score   support\n\n" +
      "        MISC       0.00      0.00      0.00         1\n" +
      "         PER       1.00      1.00      1.00         1\n\n" +
      "   micro avg       0.50      0.50      0.50         2\n" +
      "   macro avg       0.50      0.50      0.50         2\n" +
      "weighted avg       0.50      0.50      0.50         2\n",
  );
  assertEquals(accuracyScore(yTrue, yPred), 0.8);
  assertEquals([precisionScore(yTrue, yPred), recallScore(yTrue, yPred)], [0.5, 0.5]);
});

Deno.test("averages: micro pools counts, macro is the plain mean, weighted uses support", () => {
  const yTrue = [["O", "O", "B-MISC", "I-MISC", "B-MISC", "O", "O"], ["B-PER", "I-PER", "O"]];
  const yPred = [["O", "O", "B-MISC", "I-MISC", "B-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
  // MISC: gold {2-3, 4}, pred {2-3, 4-5} → 1 of 2; PER 1 of 1.
  assertEquals(f1Score(yTrue, yPred, { average: "micro" }), 2 / 3);
  assertEquals(f1Score(yTrue, yPred, { average: "macro" }), 0.75);
  assertEquals(f1Score(yTrue, yPred, { average: "weighted" }), (0.5 * 2 + 1 * 1) / 3);
});

Deno.test("zero division gives 0 and warns once; zeroDivision 1 gives 1 silently", () => {
  resetWarnings();
  const refs = [["B-PER", "O"]];
  const preds = [["O", "B-LOC"]];
  const [r, seen] = captureWarnings(() => entityReport(refs, preds));
  // LOC was never in the gold (recall 0/0) and PER never predicted (precision 0/0).
  assertEquals(r.classes.map((c) => [c.name, c.precision, c.recall, c.f1]), [["LOC", 0, 0, 0], [
    "PER",
    0,
    0,
    0,
  ]]);
  assertEquals(seen.length, 2);
  assert(seen[0].startsWith("UndefinedMetricWarning: Precision and F-score are ill-defined"));
  assert(
    seen[1].includes(
      "Recall and F-score are ill-defined and being set to 0.0 in labels with no true samples",
    ),
  );
  const [, again] = captureWarnings(() => entityReport(refs, preds));
  assertEquals(again, []);
  resetWarnings();
  const [r1, quiet] = captureWarnings(() => entityReport(refs, preds, { zeroDivision: 1 }));
  assertEquals(quiet, []);
  assertEquals(r1.classes.map((c) => [c.precision, c.recall]), [[0, 1], [1, 0]]);
  // Nothing predicted, nothing in the gold: micro precision is undefined too.
  resetWarnings();
  const [empty, warned] = captureWarnings(() => entityReport([["O"]], [["O"]]));
  assertEquals([empty.micro.precision, empty.micro.recall, empty.weighted.recall], [0, 0, 0]);
  assert(Number.isNaN(empty.macro.f1));
  assert(warned.some((w) => w.includes("due to no predicted samples")));
});

Deno.test("bad input: mismatched lengths name the sequence; bad tags name sequence and position", () => {
  assertThrows(
    () => seqeval({ predictions: [["O"], ["O", "O"]], references: [["O"], ["O"]] }),
    RangeError,
    "sequence 1: references has 1 tags but predictions has 2",
  );
  assertThrows(
    () => seqeval({ predictions: [["O"]], references: [["O"], ["O"]] }),
    RangeError,
    "predictions has 1 sequences but references has 2",
  );
  assertThrows(
    () => seqeval({ predictions: [["O", ""]], references: [["O", "O"]] }),
    TypeError,
    "sequence 0, position 1",
  );
  const m = new SeqevalMetric({ mode: "strict", scheme: "IOB2" });
  m.addBatch({ predictions: [["B-PER"]], references: [["B-PER"]] });
  // Sentence numbers continue across batches; a failed batch leaves the metric as it was.
  assertThrows(
    () => m.addBatch({ predictions: [["O"], ["S-PER"]], references: [["O"], ["B-PER"]] }),
    Error,
    "sequence 2, position 0",
  );
  assertEquals(m.sentences, 1);
  assertEquals(m.compute().overall_f1, 1);
  assertThrows(
    () => new SeqevalMetric({ mode: "strict", scheme: "IOX" as "IOB2" }),
    Error,
    "Scheme should be one of",
  );
});
