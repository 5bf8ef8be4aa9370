/**
 * Metrics speed: scoring the 3250 sentences (51362 tokens) of CoNLL-2003 validation. Target: < 50 ms for
 * a full seqeval pass. Run: `deno bench -A bench/metrics_bench.ts`.
 * @module
 */

import {
  conllevalCounts,
  entityReport,
  rowsFromSentences,
  SeqevalMetric,
  tokenReport,
} from "../src/metrics/mod.ts";
import { perturbNer, readConll } from "../tests/metrics/_conll.ts";

const valid = await readConll("valid");
const refs = valid.map((s) => s.ner);
const preds = perturbNer(valid);
const pos = valid.map((s) => s.pos);
const quiet = { zeroDivision: 0 as const };

Deno.bench("seqeval default mode, 3250 sentences (one shot)", { baseline: true }, () => {
  entityReport(refs, preds, quiet);
});

Deno.bench("seqeval default mode, 3250 sentences in batches of 32", () => {
  const m = new SeqevalMetric(quiet);
  for (let i = 0; i < refs.length; i += 32) {
    m.addBatch({ predictions: preds.slice(i, i + 32), references: refs.slice(i, i + 32) });
  }
  m.compute();
});

Deno.bench("seqeval strict IOB2, 3250 sentences", () => {
  entityReport(refs, preds, { ...quiet, mode: "strict", scheme: "IOB2" });
});

Deno.bench("conlleval counts, 3250 sentences", () => {
  conllevalCounts(rowsFromSentences(refs, preds));
});

Deno.bench("token-level metrics on POS tags, 3250 sentences", () => {
  tokenReport(pos, pos, quiet);
});
