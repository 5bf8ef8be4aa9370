import { assertEquals, assertThrows } from "../_assert.ts";
import { tokenClassificationReport, TokenMetric, tokenReport } from "../../src/metrics/token_metrics.ts";
import { readConll } from "./_conll.ts";

const Y_TRUE = [["A", "B", "A"], ["C"]];
const Y_PRED = [["A", "A", "A"], ["B"]];

Deno.test("token metrics: hand-worked per-tag scores and averages", () => {
  const r = tokenReport(Y_TRUE, Y_PRED, { zeroDivision: 0 });
  // A: 2 of 3 predictions right, both gold A found. B: 1 predicted, wrong. C: never predicted.
  assertEquals(r.classes.map((c) => [c.name, c.precision, c.recall, c.f1, c.support]), [
    ["A", 2 / 3, 1, 0.8, 2],
    ["B", 0, 0, 0, 1],
    ["C", 0, 0, 0, 1],
  ]);
  assertEquals([r.accuracy, r.tokens, r.correctTokens], [0.5, 4, 2]);
  assertEquals(r.micro.f1, r.accuracy);
  assertEquals(r.macro.recall, 1 / 3);
  assertEquals(r.weighted.f1, (0.8 * 2) / 4);
});

Deno.test("token report text has scikit-learn's layout", () => {
  assertEquals(
    tokenClassificationReport(Y_TRUE, Y_PRED, { zeroDivision: 0 }),
    [
      "              precision    recall  f1-score   support",
      "",
      "           A       0.67      1.00      0.80         2",
      "           B       0.00      0.00      0.00         1",
      "           C       0.00      0.00      0.00         1",
      "",
      "    accuracy                           0.50         4",
      "   macro avg       0.22      0.33      0.27         4",
      "weighted avg       0.33      0.50      0.40         4",
      "",
    ].join("\n"),
  );
});

Deno.test("POS tags of CoNLL-2003 validation: accuracy and per-tag recall match a direct count", async () => {
  const valid = await readConll("valid");
  const gold = valid.map((s) => s.pos);
  // A crude tagger: every NNPS is read as NNP and every 10th token as NN.
  let k = 0;
  const pred = gold.map((s) => s.map((t) => (++k % 10 === 0 ? "NN" : t === "NNPS" ? "NNP" : t)));
  const metric = new TokenMetric({ zeroDivision: 0 });
  for (let i = 0; i < gold.length; i += 500) {
    metric.addBatch({ references: gold.slice(i, i + 500), predictions: pred.slice(i, i + 500) });
  }
  const r = metric.compute();
  const flatG = gold.flat();
  const flatP = pred.flat();
  const correct = flatG.filter((t, i) => t === flatP[i]).length;
  assertEquals(r.tokens, 51362);
  assertEquals(r.accuracy, correct / flatG.length);
  const nnps = r.classes.find((c) => c.name === "NNPS")!;
  assertEquals([nnps.recall, nnps.predicted], [0, 0]);
  const nn = r.classes.find((c) => c.name === "NN")!;
  const nnGold = flatG.filter((t) => t === "NN").length;
  const nnPred = flatP.filter((t) => t === "NN").length;
  const nnRight = flatG.filter((t, i) => t === "NN" && flatP[i] === "NN").length;
  assertEquals([nn.support, nn.precision, nn.recall], [nnGold, nnRight / nnPred, nnRight / nnGold]);
});

Deno.test("token metrics: mismatched lengths are reported with the sequence index", () => {
  const m = new TokenMetric();
  m.addBatch({ references: [["A"]], predictions: [["A"]] });
  assertThrows(
    () => m.addBatch({ references: [["A"], ["A", "B"]], predictions: [["A"], ["A"]] }),
    RangeError,
    "sequence 2: references has 2 tags but predictions has 1",
  );
});
