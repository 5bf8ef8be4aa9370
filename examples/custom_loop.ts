/**
 * The course's Accelerate-style custom training loop, written by hand with the library's building blocks:
 * dataloaders, model forward/backward, AdamW with HF's decay grouping, gradient clipping, a linear LR
 * schedule, zeroing, seqeval's addBatch/compute, and savePretrained.
 *
 *   deno run -A examples/custom_loop.ts [--model DIR] [--epochs 1] [--train-samples 500] [--output-dir DIR]
 *                                       [--push-to-hub REPO_ID]
 *
 * Without --model it trains a small BERT from scratch (no download needed). As in the course, the model is
 * saved after each epoch and, with --push-to-hub (after `deno task login`), pushed in the background with
 * `pushToHub(dir, repo, { commitMessage: "Training in progress epoch N", blocking: false })`.
 * @module
 */
import {
  AdamW,
  argmaxLastAxis,
  backward,
  BatchLoader,
  BERT_BASE_CASED_DIR,
  BertForTokenClassification,
  clipGradNorm,
  decays,
  fromPretrained,
  initGpu,
  learningRate,
  loadConll2003,
  loadTokenizer,
  makeBertConfig,
  NerEvaluator,
  noGrad,
  type PushJob,
  pushToHub,
  readAll,
  savePretrained,
  tidy,
  tokenizeAndAlign,
  toTokenBatch,
} from "../mod.ts";

const arg = (name: string, fallback: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
};
const epochs = Number(arg("--epochs", "1"));
const trainSamples = Number(arg("--train-samples", "500"));
const outputDir = arg("--output-dir", "bert-finetuned-ner-accelerate");
const hubRepo = Deno.args.includes("--push-to-hub") ? arg("--push-to-hub", "") : null;
const pushes: PushJob[] = [];

await initGpu();
const raw = await loadConll2003();
const tokenizer = await loadTokenizer();
const labelNames = [...raw.train.features.ner_tags.names];
const trainSet = tokenizeAndAlign({ ...raw.train, rows: raw.train.rows.slice(0, trainSamples) }, tokenizer);
const evalRows = raw.validation.rows.slice(0, 200);
const evalSet = tokenizeAndAlign({ ...raw.validation, rows: evalRows }, tokenizer);

const modelDir = Deno.args.includes("--model") ? arg("--model", "") : null;
const model = modelDir
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
const lr = modelDir ? 2e-5 : 1e-3;

const trainLoader = new BatchLoader(trainSet.examples, {
  batchSize: 8,
  padId: tokenizer.padId,
  shuffle: true,
});
const evalLoader = new BatchLoader(evalSet.examples, { batchSize: 8, padId: tokenizer.padId });
const optimizer = new AdamW(
  model.namedParameters().map(([name, param]) => ({ param, weightDecay: decays(name) ? 0.01 : 0 })),
  { lr },
);
const totalSteps = epochs * trainLoader.numBatches;
const schedule = { lr, warmupSteps: 0, totalSteps, type: "linear" as const };
const params = [...model.params.values()];
let step = 0;

for (let epoch = 0; epoch < epochs; epoch++) {
  model.train();
  for (const batch of trainLoader.batches(epoch)) {
    tidy(() => {
      const out = model.forward(toTokenBatch(batch));
      backward(out.loss!); // accelerator.backward(loss)
    });
    noGrad(() => tidy(() => optimizer.step(learningRate(step, schedule), clipGradNorm(params, 1).scale)));
    optimizer.zeroGrad();
    step++;
  }

  model.eval();
  const metric = new NerEvaluator(labelNames);
  for (const batch of evalLoader.batches()) {
    const [logits] = await noGrad(() =>
      tidy(() =>
        readAll([
          model.forward(toTokenBatch(batch, false)).logits,
        ])
      )
    );
    const preds = argmaxLastAxis(logits, labelNames.length);
    const T = batch.seqLen;
    const rows = Array.from(batch.rows, (_, b) => b);
    metric.addBatch({
      predictions: rows.map((b) => preds.subarray(b * T, b * T + batch.lengths[b])),
      labels: rows.map((b) => batch.labels!.subarray(b * T, b * T + batch.lengths[b])),
    });
  }
  const r = metric.compute().headline;
  console.log(`epoch ${epoch}:`, {
    precision: r.overall_precision,
    recall: r.overall_recall,
    f1: r.overall_f1,
    accuracy: r.overall_accuracy,
  });

  // Save and upload (the course: save_pretrained, then repo.push_to_hub(..., blocking=False))
  await savePretrained(model, outputDir, { tokenizerDir: BERT_BASE_CASED_DIR });
  if (hubRepo) {
    const message = `Training in progress epoch ${epoch}`;
    pushes.push(await pushToHub(outputDir, hubRepo, { commitMessage: message, blocking: false }));
  }
}

console.log(`saved to ${outputDir}`);
for (const job of pushes) await job.wait(); // the uploads ran while the next epoch trained
if (hubRepo) console.log(`pushed ${pushes.length} commit(s) to ${hubRepo}`);
