// Issue 13 item 1: a loss that turns NaN/Inf (learning rate 1e6, no clipping) stops training with an
// error naming the step, found without a readback per step (the GPU flag rides on the logging, progress
// and checkpoint readbacks); no checkpoint, best model or final folder is written from diverged weights.
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { BERT_BASE_CASED_DIR, loadTokenizer } from "../../src/data/tokenizer.ts";
import { tokenizeAndAlign } from "../../src/data/prepare.ts";
import { fromPretrained } from "../../src/model/pretrained.ts";
import { nonFiniteTensors } from "../../src/model/weight_checks.ts";
import { DEFAULT_TRAINING_ARGS, type TrainingArguments } from "../../src/train/args.ts";
import { listCheckpoints } from "../../src/train/checkpoint.ts";
import { NonFiniteLossError } from "../../src/train/nonfinite.ts";
import { type EvalSet, Trainer } from "../../src/train/trainer.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();
const FIXTURE = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;
const data = await loadConll2003();
const tokenizer = await loadTokenizer();
const NAMES = data.train.features.ner_tags.names;
const trainRows = { ...data.train, rows: data.train.rows.slice(0, 40) };
const train = tokenizeAndAlign(trainRows, tokenizer, { maxLength: 32 }).examples;
const evalRows = { ...data.validation, rows: data.validation.rows.slice(0, 8) };
const evalSet: EvalSet = {
  examples: tokenizeAndAlign(evalRows, tokenizer, { maxLength: 32 }).examples,
  wordTags: evalRows.rows.map((r) => r.tags.ner_tags.map((t) => NAMES[t])),
};

function args(outputDir: string, over: Partial<TrainingArguments> = {}): TrainingArguments {
  return {
    ...DEFAULT_TRAINING_ARGS,
    outputDir,
    perDeviceTrainBatchSize: 4,
    perDeviceEvalBatchSize: 8,
    maxSteps: 10,
    loggingSteps: 500, // no logging readback inside the run: only the flag can catch it
    evalStrategy: "no",
    saveStrategy: "no",
    ...over,
  };
}

async function trainer(a: TrainingArguments) {
  const { model } = await fromPretrained(FIXTURE, { labels: NAMES });
  return new Trainer({
    model,
    args: a,
    train,
    eval: evalSet,
    padId: tokenizer.padId,
    progress: false,
    tokenizerDir: BERT_BASE_CASED_DIR,
  });
}

Deno.test("trainer (item 1): lr 1e6 without clipping stops with the first non-finite step; nothing saved", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const t = await trainer(args(dir, { learningRate: 1e6, maxGradNorm: 0 }));
    const e = await assertRejects(() => t.train(), NonFiniteLossError, "became NaN or infinite at step");
    assert(e.step >= 1 && e.step <= 10, `step ${e.step}`);
    // The step named is the first one: the model was finite before it (rerun to step - 1 shows it).
    const entries = [...Deno.readDirSync(dir)].map((x) => x.name);
    assertEquals(entries.filter((n) => n !== "train_log.jsonl"), [], "files written from diverged weights");
    t.model.dispose();
    t.optimizer.dispose();
    if (e.step > 1) {
      const before = await trainer(
        args(await Deno.makeTempDir(), { learningRate: 1e6, maxGradNorm: 0, maxSteps: e.step - 1 }),
      );
      await before.train();
      assertEquals(await nonFiniteTensors(before.model.params), []);
      before.model.dispose();
      before.optimizer.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainer (item 1): checkpoints before the divergence stay; none after; a NaN eval metric is never best", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Finite for the first steps (a small rate), then the rate jumps: constant schedule with 1e6 from step 3.
    const t = await trainer(args(dir, {
      learningRate: 1e6,
      maxGradNorm: 0,
      warmupSteps: 3,
      lrSchedulerType: "constant_with_warmup",
      saveStrategy: "steps",
      saveSteps: 1,
      evalStrategy: "steps",
      evalSteps: 1,
      loadBestModelAtEnd: true,
      metricForBestModel: "loss",
    }));
    const e = await assertRejects(() => t.train(), NonFiniteLossError);
    const saved = (await listCheckpoints(dir)).map((c) => c.step);
    assertEquals(saved, Array.from({ length: e.step - 1 }, (_, i) => i + 1));
    assert(
      t.state.best_metric === null || Number.isFinite(t.state.best_metric),
      `best ${t.state.best_metric}`,
    );
    if (saved.length) assert(e.message.includes(`checkpoint-${saved[saved.length - 1]}`), e.message);
    t.model.dispose();
    t.optimizer.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
