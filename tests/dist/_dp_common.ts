// Shared by tests/dist/data_parallel_test.ts (one process) and tests/dist/_dp_worker.ts (each of 2
// ranks): the same tiny model, data and runs, so the two sides differ only in the process group.
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { loadTokenizer } from "../../src/data/tokenizer.ts";
import { tokenizeAndAlign } from "../../src/data/prepare.ts";
import { BatchLoader } from "../../src/data/loader.ts";
import { fromPretrained } from "../../src/model/pretrained.ts";
import { type TokenClassifier, toTokenBatch } from "../../src/model/classifier.ts";
import { NerEvaluator } from "../../src/metrics/evaluator.ts";
import { argmaxLastAxis } from "../../src/metrics/decode.ts";
import { noGrad } from "../../src/engine/tape.ts";
import { readAll, tidy } from "../../src/engine/tensor.ts";
import { DEFAULT_TRAINING_ARGS, type TrainingArguments } from "../../src/train/args.ts";
import { type EvalSet, Trainer } from "../../src/train/trainer.ts";
import type { Accelerator } from "../../src/train/accelerator.ts";
import type { ProcessGroup } from "../../src/dist/group.ts";

export const FIXTURE = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;
const data = await loadConll2003();
export const tokenizer = await loadTokenizer();
export const NAMES = data.train.features.ner_tags.names;
const trainRows = { ...data.train, rows: data.train.rows.slice(0, 16) };
export const train = tokenizeAndAlign(trainRows, tokenizer, { maxLength: 48 }).examples;
// 13 examples in batches of 4: the last batch has 1 example, and with 2 ranks rank 0 runs 2 batches
// (8 examples) and rank 1 runs 2 batches (5 examples) of different padded lengths.
const evalRows = { ...data.validation, rows: data.validation.rows.slice(20, 33) };
export const evalSet: EvalSet = {
  examples: tokenizeAndAlign(evalRows, tokenizer, { maxLength: 48 }).examples,
  wordTags: evalRows.rows.map((r) => r.tags.ner_tags.map((t) => NAMES[t])),
};

/** The fixture model with every dropout off (so runs are deterministic). */
export async function tinyModel(): Promise<TokenClassifier> {
  const { model } = await fromPretrained(FIXTURE, { labels: NAMES });
  const c = model.config as unknown as Record<string, unknown>;
  c.hidden_dropout_prob = c.attention_probs_dropout_prob = 0;
  c.classifier_dropout = 0;
  return model;
}

/** Arguments of the equivalence runs: 4 optimizer steps over the 16 examples. */
export function dpArgs(outputDir: string, over: Partial<TrainingArguments> = {}): TrainingArguments {
  return {
    ...DEFAULT_TRAINING_ARGS,
    outputDir,
    learningRate: 3e-3,
    perDeviceTrainBatchSize: 2,
    perDeviceEvalBatchSize: 4,
    numTrainEpochs: 1,
    loggingSteps: 1,
    evalStrategy: "no",
    saveStrategy: "no",
    ...over,
  };
}

/** Trains the tiny model; returns the logged losses and the final weights (flattened, in order). */
export async function trainRun(
  args: TrainingArguments,
  group?: ProcessGroup,
): Promise<{ losses: number[]; weights: Float32Array[] }> {
  const model = await tinyModel();
  // 64 KiB buckets: the 3.8 MB of gradients go out in ~60 buckets, overlapping the backward pass.
  const trainer = new Trainer({
    model,
    args,
    train,
    padId: tokenizer.padId,
    progress: false,
    saveFinal: false,
    group,
    bucketBytes: 64 * 1024,
  });
  const r = await trainer.train();
  const weights = (await readAll([...model.params.values()])) as Float32Array[];
  trainer.optimizer.dispose();
  model.dispose();
  const losses = r.state.log_history.filter((e) => typeof e.loss === "number").map((e) => e.loss as number);
  return { losses, weights };
}

/** The Trainer's evaluation of the untrained tiny model. */
export async function trainerEval(group?: ProcessGroup): Promise<Record<string, number>> {
  const model = await tinyModel();
  const trainer = new Trainer({
    model,
    args: dpArgs("/nonexistent"),
    train,
    eval: evalSet,
    padId: tokenizer.padId,
    progress: false,
    group,
  });
  const m = await trainer.evaluate();
  trainer.optimizer.dispose();
  model.dispose();
  delete m.eval_runtime;
  delete m.eval_samples_per_second;
  return m;
}

/** The course's Accelerate evaluation loop: pad across processes, gather (for metrics), seqeval. */
export async function courseEval(accelerator: Accelerator): Promise<Record<string, number>> {
  const evalDataloader = new BatchLoader(evalSet.examples, { batchSize: 4, padId: tokenizer.padId });
  const [model, evalLoader] = await accelerator.prepare(await tinyModel(), evalDataloader);
  model.eval();
  const metric = new NerEvaluator([...NAMES]);
  for (const batch of evalLoader.batches()) {
    const [logits] = await noGrad(() =>
      tidy(() => readAll([model.forward(toTokenBatch(batch, false)).logits]))
    );
    const shape = [batch.batchSize, batch.seqLen];
    let predictions = { data: argmaxLastAxis(logits, NAMES.length), shape };
    let labels = { data: batch.labels!, shape };
    predictions = await accelerator.padAcrossProcesses(predictions, { dim: 1, padIndex: -100 });
    labels = await accelerator.padAcrossProcesses(labels, { dim: 1, padIndex: -100 });
    const predictionsGathered = await accelerator.gatherForMetrics(predictions);
    const labelsGathered = await accelerator.gatherForMetrics(labels);
    const [rows, T] = labelsGathered.shape;
    metric.addBatch({
      predictions: Array.from(
        { length: rows },
        (_, b) => predictionsGathered.data.subarray(b * T, (b + 1) * T),
      ),
      labels: Array.from({ length: rows }, (_, b) => labelsGathered.data.subarray(b * T, (b + 1) * T)),
    });
  }
  model.dispose();
  const r = metric.compute().headline;
  return {
    precision: r.overall_precision,
    recall: r.overall_recall,
    f1: r.overall_f1,
    accuracy: r.overall_accuracy,
  };
}
