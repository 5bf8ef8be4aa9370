import { assert, assertEquals } from "../_assert.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { BERT_BASE_CASED_DIR, loadTokenizer } from "../../src/data/tokenizer.ts";
import { tokenizeAndAlign } from "../../src/data/prepare.ts";
import { fromPretrained } from "../../src/model/pretrained.ts";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { DEFAULT_TRAINING_ARGS, type TrainingArguments } from "../../src/train/args.ts";
import { listCheckpoints } from "../../src/train/checkpoint.ts";
import { type EvalSet, Trainer } from "../../src/train/trainer.ts";
import { setupGpu } from "../_util.ts";
import { gpu } from "../../src/engine/gpu.ts";

await setupGpu();
const FIXTURE = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;
const data = await loadConll2003();
const tokenizer = await loadTokenizer();
const NAMES = data.train.features.ner_tags.names;
const trainRows = { ...data.train, rows: data.train.rows.slice(0, 24) };
const train = tokenizeAndAlign(trainRows, tokenizer, { maxLength: 64 }).examples;
const evalRows = { ...data.validation, rows: data.validation.rows.slice(0, 12) };
const evalSet: EvalSet = {
  examples: tokenizeAndAlign(evalRows, tokenizer, { maxLength: 64 }).examples,
  wordTags: evalRows.rows.map((r) => r.tags.ner_tags.map((t) => NAMES[t])),
};

function args(outputDir: string, over: Partial<TrainingArguments> = {}): TrainingArguments {
  return {
    ...DEFAULT_TRAINING_ARGS,
    outputDir,
    learningRate: 3e-3,
    perDeviceTrainBatchSize: 4,
    perDeviceEvalBatchSize: 6,
    numTrainEpochs: 2,
    loggingSteps: 1,
    evalStrategy: "no",
    saveStrategy: "no",
    ...over,
  };
}

async function run(a: TrainingArguments) {
  const inUse = gpu().memory().inUseCount;
  const { model } = await fromPretrained(FIXTURE, { labels: NAMES });
  const trainer = new Trainer({
    model,
    args: a,
    train,
    eval: evalSet,
    padId: tokenizer.padId,
    progress: false,
    tokenizerDir: BERT_BASE_CASED_DIR,
  });
  const result = await trainer.train();
  trainer.optimizer.dispose();
  model.dispose();
  assertEquals(gpu().memory().inUseCount, inUse, "GPU tensors left alive after training");
  return result;
}

const losses = (h: Record<string, unknown>[]) =>
  h.filter((e) => typeof e.loss === "number").map((e) => e.loss);

Deno.test("trainer: the tiny model's loss falls over a few steps on CoNLL sentences", async () => {
  const dir = await Deno.makeTempDir();
  const r = await run(args(dir, { numTrainEpochs: 4 }));
  const l = losses(r.state.log_history) as number[];
  assertEquals(l.length, 24);
  const first = (l[0] + l[1] + l[2]) / 3, last = (l[21] + l[22] + l[23]) / 3;
  assert(last < 0.7 * first, `loss did not fall: ${first} -> ${last}`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("trainer: a run stopped at a checkpoint and resumed logs the same losses as an uninterrupted run", async () => {
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
  const full = await run(args(a));
  // Stop after step 7 (what Ctrl-C does: finish the step, save a checkpoint, return).
  const { model } = await fromPretrained(FIXTURE, { labels: NAMES });
  const stopped: Trainer = new Trainer({
    model,
    args: args(b),
    train,
    padId: tokenizer.padId,
    progress: false,
    onLog: (e) => {
      if (e.step === 7) stopped.requestStop();
    },
  });
  const partial = await stopped.train();
  model.dispose();
  assert(partial.interrupted, "stopped early");
  assertEquals((await listCheckpoints(b)).map((c) => c.step), [7]);
  const resumed = await run(args(b, { resumeFromCheckpoint: "latest" }));
  assertEquals(resumed.globalStep, 12);
  assertEquals(losses(resumed.state.log_history), losses(full.state.log_history));
  await Deno.remove(a, { recursive: true });
  await Deno.remove(b, { recursive: true });
});

Deno.test("trainer: saveTotalLimit rotates checkpoints; the output folder has the HF file set", async () => {
  const dir = await Deno.makeTempDir();
  const r = await run(
    args(dir, { saveStrategy: "steps", saveSteps: 2, saveTotalLimit: 2, evalStrategy: "epoch" }),
  );
  const cps = await listCheckpoints(dir);
  assertEquals(cps.map((c) => c.step), [10, 12]);
  for (
    const f of [
      "config.json",
      "model.safetensors",
      "tokenizer.json",
      "vocab.txt",
      "README.md",
      "training_curve.svg",
    ]
  ) {
    await Deno.stat(`${dir}/${f}`);
  }
  for (const f of ["optimizer.safetensors", "trainer_state.json", "rng_state.json", "scheduler.json"]) {
    await Deno.stat(`${cps[1].path}/${f}`);
  }
  const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  assertEquals(config.architectures, ["BertForTokenClassification"]);
  assertEquals(config.id2label["3"], "B-ORG");
  const st = await readSafetensors(`${dir}/model.safetensors`);
  assertEquals(st.metadata, { format: "pt" });
  const fixtureKeys = [...(await readSafetensors(`${FIXTURE}model.safetensors`)).tensors.keys()].sort();
  assertEquals([...st.tensors.keys()].sort(), fixtureKeys);
  const card = await Deno.readTextFile(`${dir}/README.md`);
  assert(card.includes("| Training Loss | Epoch | Step | Validation Loss |"), "results table");
  const f1 = r.lastEval?.eval_f1;
  // A number that is a real score: NaN (typeof "number") would not pass.
  assert(typeof f1 === "number" && Number.isFinite(f1) && f1 >= 0 && f1 <= 1, `eval ran: eval_f1 ${f1}`);
  assert(Number.isFinite(r.lastEval?.eval_loss), `eval_loss ${r.lastEval?.eval_loss}`);
  const log = (await Deno.readTextFile(`${dir}/train_log.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert(log.some((e) => "eval_f1" in e) && log.some((e) => "train_runtime" in e), "jsonl log");
  await Deno.remove(dir, { recursive: true });
});
