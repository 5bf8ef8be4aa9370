/**
 * The Hugging Face course's custom training loop with 🤗 Accelerate (chapter 7, token classification),
 * line for line with this library's `Accelerator`: prepare, backward, pad_across_processes, gather,
 * wait_for_everyone, unwrap_model, save_pretrained(save_function=accelerator.save), is_main_process.
 *
 *   deno run -A examples/custom_loop.ts [--model DIR] [--epochs 1] [--train-samples 500] [--output-dir DIR]
 *                                       [--push-to-hub REPO_ID]
 *   deno task launch --num-processes 2 --script examples/custom_loop.ts -- --train-samples 500
 *
 * Without --model it trains a small BERT from scratch (no download needed). As in the course, the model is
 * saved after each epoch and, with --push-to-hub (after `deno task login`), pushed from the main process in
 * the background with `pushToHub(dir, repo, { commitMessage: "Training in progress epoch N",
 * blocking: false })`. One difference from the
 * course: it gathers with `gatherForMetrics` (HF's recommended form since Accelerate 0.16) because the
 * prepared eval loader repeats examples in its last round so every process runs the same number of
 * batches, and `gather` would count those twice.
 * @module
 */
import {
  Accelerator,
  AdamW,
  argmaxLastAxis,
  BatchLoader,
  BERT_BASE_CASED_DIR,
  BertForTokenClassification,
  fromPretrained,
  initGpu,
  learningRate,
  loadConll2003,
  loadTokenizer,
  makeBertConfig,
  noGrad,
  type PushJob,
  pushToHub,
  readAll,
  savePretrained,
  SeqevalMetric,
  tidy,
  tokenizeAndAlign,
  toTokenBatch,
} from "../mod.ts";

const arg = (name: string, fallback: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
};
const numTrainEpochs = Number(arg("--epochs", "1"));
const trainSamples = Number(arg("--train-samples", "500"));
const outputDir = arg("--output-dir", "bert-finetuned-ner-accelerate");
const hubRepo = Deno.args.includes("--push-to-hub") ? arg("--push-to-hub", "") : null;
const pushes: PushJob[] = [];

// Data, tokenizer and model (the course's earlier sections).
await initGpu();
const raw = await loadConll2003();
const tokenizer = await loadTokenizer();
const labelNames = [...raw.train.features.ner_tags.names];
const trainSet = tokenizeAndAlign({ ...raw.train, rows: raw.train.rows.slice(0, trainSamples) }, tokenizer);
const evalSet = tokenizeAndAlign({ ...raw.validation, rows: raw.validation.rows.slice(0, 200) }, tokenizer);
const modelDir = Deno.args.includes("--model") ? arg("--model", "") : null;
let model = modelDir
  ? (await fromPretrained(modelDir, { labels: labelNames })).model
  : BertForTokenClassification.random(
    makeBertConfig({
      vocab_size: tokenizer.vocabSize,
      hidden_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 128,
      labels: labelNames,
    }),
  );

// train_dataloader / eval_dataloader with DataCollatorForTokenClassification, batch size 8.
const trainDataloader = new BatchLoader(trainSet.examples, {
  batchSize: 8,
  padId: tokenizer.padId,
  shuffle: true,
});
const evalDataloader = new BatchLoader(evalSet.examples, { batchSize: 8, padId: tokenizer.padId });

// optimizer = AdamW(model.parameters(), lr=2e-5)
const optimizer = new AdamW(
  model.namedParameters().map(([name, param]) => ({ param, weightDecay: model.decays(name) ? 0.01 : 0 })),
  { lr: modelDir ? 2e-5 : 1e-3 },
);

const accelerator = await Accelerator.create();
const [preparedModel, preparedOptimizer, trainLoader, evalLoader] = await accelerator.prepare(
  model,
  optimizer,
  trainDataloader,
  evalDataloader,
);
model = preparedModel;

// lr_scheduler = get_scheduler("linear", ...)
const numUpdateStepsPerEpoch = trainLoader.length;
const numTrainingSteps = numTrainEpochs * numUpdateStepsPerEpoch;
const lrScheduler = {
  lr: optimizer.lr,
  warmupSteps: 0,
  totalSteps: numTrainingSteps,
  type: "linear" as const,
};
let step = 0;

function postprocess(
  predictions: { data: Int32Array; shape: number[] },
  labels: { data: Int32Array; shape: number[] },
): [string[][], string[][]] {
  const [rows, T] = labels.shape;
  const trueLabels: string[][] = [], truePredictions: string[][] = [];
  for (let b = 0; b < rows; b++) {
    const keep = [...Array(T).keys()].filter((t) => labels.data[b * T + t] !== -100);
    trueLabels.push(keep.map((t) => labelNames[labels.data[b * T + t]]));
    truePredictions.push(keep.map((t) => labelNames[predictions.data[b * T + t]]));
  }
  return [truePredictions, trueLabels];
}

const metric = new SeqevalMetric();
for (let epoch = 0; epoch < numTrainEpochs; epoch++) {
  // Training
  model.train();
  for (const batch of trainLoader.batches(epoch)) {
    await tidy(async () => {
      const outputs = model.forward(toTokenBatch(batch));
      const loss = outputs.loss!;
      await accelerator.backward(loss);
    });
    preparedOptimizer.step(learningRate(step++, lrScheduler)); // optimizer.step(); lr_scheduler.step()
    preparedOptimizer.zeroGrad();
  }

  // Evaluation
  model.eval();
  for (const batch of evalLoader.batches()) {
    const [logits] = await noGrad(() =>
      tidy(() => readAll([model.forward(toTokenBatch(batch, false)).logits]))
    );
    const shape = [batch.batchSize, batch.seqLen];
    let predictions = { data: argmaxLastAxis(logits, labelNames.length), shape };
    let labels = { data: batch.labels!, shape };
    // Necessary to pad predictions and labels for being gathered
    predictions = await accelerator.padAcrossProcesses(predictions, { dim: 1, padIndex: -100 });
    labels = await accelerator.padAcrossProcesses(labels, { dim: 1, padIndex: -100 });
    const predictionsGathered = await accelerator.gatherForMetrics(predictions);
    const labelsGathered = await accelerator.gatherForMetrics(labels);
    const [truePredictions, trueLabels] = postprocess(predictionsGathered, labelsGathered);
    metric.addBatch({ predictions: truePredictions, references: trueLabels });
  }

  const results = metric.compute();
  accelerator.print(`epoch ${epoch}:`, {
    precision: results.overall_precision,
    recall: results.overall_recall,
    f1: results.overall_f1,
    accuracy: results.overall_accuracy,
  });

  // Save and upload
  await accelerator.waitForEveryone();
  const unwrappedModel = accelerator.unwrapModel(model);
  await savePretrained(unwrappedModel, outputDir, {
    saveFunction: accelerator.save,
    tokenizerDir: BERT_BASE_CASED_DIR, // tokenizer.save_pretrained(output_dir) on the main process
  });
  if (accelerator.isMainProcess && hubRepo) {
    const message = `Training in progress epoch ${epoch}`; // repo.push_to_hub(..., blocking=False)
    pushes.push(await pushToHub(outputDir, hubRepo, { commitMessage: message, blocking: false }));
  }
}
accelerator.print(`saved to ${outputDir} (${accelerator.numProcesses} process(es))`);
for (const job of pushes) await job.wait(); // the uploads ran while the next epoch trained
if (hubRepo) accelerator.print(`pushed ${pushes.length} commit(s) to ${hubRepo}`);
await accelerator.endTraining();
