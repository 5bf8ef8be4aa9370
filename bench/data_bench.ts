/**
 * Data pipeline speed: load + tokenize + align all 14041 CoNLL-2003 train sentences (issue target < 2 s;
 * HF's Rust fast tokenizer takes about that). Run: `deno bench -A bench/data_bench.ts`.
 * @module
 */
import { loadConll } from "../src/data/conll.ts";
import { CONLL2003_DIR, CONLL2003_OPTIONS } from "../src/data/conll2003.ts";
import { tokenizeAndAlign } from "../src/data/prepare.ts";
import { loadTokenizer } from "../src/data/tokenizer.ts";
import { BatchLoader } from "../src/data/loader.ts";

const TRAIN = new URL("train.txt", CONLL2003_DIR);

Deno.bench({
  name: "CoNLL-2003 train: load file + load tokenizer + tokenize + align (cold word cache)",
  group: "pipeline",
  baseline: true,
  n: 5,
  warmup: 1,
  async fn() {
    const { train } = await loadConll({ train: TRAIN }, CONLL2003_OPTIONS);
    const tokenizer = await loadTokenizer();
    const prepared = tokenizeAndAlign(train, tokenizer);
    if (prepared.examples.length !== 14041) throw new Error("wrong sentence count");
  },
});

const { train } = await loadConll({ train: TRAIN }, CONLL2003_OPTIONS);
const warm = await loadTokenizer();
const prepared = tokenizeAndAlign(train, warm);

Deno.bench({
  name: "CoNLL-2003 train: tokenize + align only (warm word cache)",
  group: "pipeline",
  n: 10,
  fn() {
    tokenizeAndAlign(train, warm);
  },
});

Deno.bench({
  name: "CoNLL-2003 train: shuffle + collate one epoch of batch 8 (1756 batches)",
  n: 10,
  fn() {
    const loader = new BatchLoader(prepared.examples, {
      batchSize: 8,
      shuffle: true,
      seed: 42,
      padId: warm.padId,
    });
    let n = 0;
    for (const batch of loader.batches(1)) n += batch.batchSize;
    if (n !== 14041) throw new Error("lost examples");
  },
});
