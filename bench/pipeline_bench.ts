/**
 * Batch inference through the pipeline with a bert-base-shaped model (12 layers, hidden 768, 12 heads,
 * intermediate 3072, cased vocabulary 28996, 9 CoNLL labels; random weights): 32 texts of exactly 62
 * word tokens, i.e. one 32×64 forward per run, including tokenization, read-back, softmax and `simple`
 * aggregation. Reference: PyTorch on these 2 cores ≈ 880 tokens/s (≈ 13.8 texts/s) at 32×64.
 *
 *   XDG_RUNTIME_DIR=/tmp deno bench -A bench/pipeline_bench.ts
 *   XDG_RUNTIME_DIR=/tmp deno run -A bench/pipeline_bench.ts --report [--runs=3]   texts/s and tokens/s
 *
 * Measured (llvmpipe/lavapipe, LLVM 15, 2 shared cores, load average ~2 from other jobs): `--report --runs=4`
 * best 5.52 s per batch = 5.8 texts/s = 371 tokens/s (median 5.62 s); `deno bench` avg 6.7 s (min 6.1 s).
 * A bare `modelScorer` forward of the same batch takes the same 6–8 s: the pipeline's own work
 * (tokenizing, padding, softmax, aggregation) is in the noise; the forward is ~0.4× PyTorch's speed.
 * @module
 */
import { loadTokenizer } from "../src/data/tokenizer.ts";
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { BertForTokenClassification } from "../src/model/bert.ts";
import { makeBertConfig } from "../src/model/config.ts";
import { TokenClassificationPipeline } from "../src/pipeline/mod.ts";
import { modelScorer } from "../src/pipeline/scorer.ts";

const BATCH = 32, SEQ = 64;
const LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];

await initGpu();
const tokenizer = await loadTokenizer();
const model = BertForTokenClassification.random(makeBertConfig({ vocab_size: 28996, labels: LABELS }));
const ner = new TokenClassificationPipeline(modelScorer(model), tokenizer, {
  aggregationStrategy: "simple",
  batchSize: BATCH,
});

/** 32 texts of SEQ − 2 single-token words each (so every window is exactly SEQ tokens). */
function _texts(): string[] {
  const pool = ("the of and to in a is was for on that with as by at from his he it an were are which be " +
    "this has also or had its first new after their who one two not but they been have her she more " +
    "city team season game film album year world war party school company John London Paris Berlin " +
    "United States American British German French Germany England Europe Africa Japan China Smith").split(" ")
    .filter((w) => tokenizer.wordPieceIds(w).length === 1);
  return Array.from(
    { length: BATCH },
    (_, t) =>
      Array.from({ length: SEQ - 2 }, (_, i) => pool[(t * 31 + i * 7 + ((i * i) >> 2)) % pool.length]).join(
        " ",
      ),
  );
}

const TEXTS = _texts();
for (const t of TEXTS) {
  if (tokenizer.encodeText(t, { truncation: false }).inputIds.length !== SEQ) throw new Error("text length");
}

async function _once(): Promise<number> {
  const t0 = performance.now();
  const out = await ner.run(TEXTS);
  if (out.length !== BATCH) throw new Error("lost texts");
  return (performance.now() - t0) / 1000;
}

if (import.meta.main && Deno.args.includes("--report")) {
  const runs = Number(Deno.args.find((a) => a.startsWith("--runs="))?.slice(7) ?? 3);
  console.log(`adapter: ${gpu().describe().description}; ${model.numParameters()} parameters`);
  const warm = await _once();
  console.log(`warm-up run (pipeline compile + first forward): ${warm.toFixed(2)} s`);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) times.push(await _once());
  const best = Math.min(...times);
  const median = times.sort((a, b) => a - b)[times.length >> 1];
  const fmt = (s: number) => `${(BATCH / s).toFixed(2)} texts/s, ${(BATCH * SEQ / s).toFixed(0)} tokens/s`;
  console.log(
    `batch ${BATCH}×${SEQ}: best ${best.toFixed(2)} s (${fmt(best)}); median ${median.toFixed(2)} s (${
      fmt(median)
    })`,
  );
} else if (!import.meta.main || Deno.args.length === 0) {
  Deno.bench({
    name: `pipeline run: ${BATCH} texts × ${SEQ} tokens, bert-base shape, simple aggregation`,
    n: 3,
    warmup: 1,
    async fn() {
      await ner.run(TEXTS);
    },
  });
}
