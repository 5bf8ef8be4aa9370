// The browser example: train a small BERT on a slice of CoNLL-2003 in the tab (or load a trained folder
// by URL), then run the token-classification pipeline on typed text and highlight the entities.
// It imports the bundle (`deno task bundle` writes dist/webgpu-ner.js); `deno task serve-example` serves it.
// URL parameters preset the form: ?train=N&epochs=E&hidden=H&heads=A&layers=L&lr=X&model=URL&autorun=1
// A computed specifier: the bundle is a build output, absent until `deno task bundle` has run.
const ner = await import(new URL("../../dist/webgpu-ner.js", import.meta.url).href);

const $ = (id) => document.getElementById(id);
const state = { model: null, tokenizer: null, pipe: null, busy: false, losses: [], epochs: [], last: null };
globalThis.nerExample = state; // for tests and the console
const DATA = new URL("../../data/", import.meta.url);

function status(s) {
  $("status").textContent = s;
}
function fail(e) {
  $("error").textContent = String(e?.stack ?? e);
  state.error = String(e?.message ?? e);
  state.busy = false;
}

function drawCurve() {
  const l = state.losses;
  if (!l.length) return;
  const max = Math.max(...l), min = Math.min(...l);
  const pts = l.map((y, i) =>
    `${(i / Math.max(1, l.length - 1)) * 600},${160 - ((y - min) / Math.max(1e-9, max - min)) * 150 - 5}`
  );
  $("loss-line").setAttribute("points", pts.join(" "));
}

async function usePipeline() {
  state.pipe?.dispose?.();
  state.pipe = await ner.pipeline("token-classification", {
    model: state.model,
    tokenizer: state.tokenizer,
    aggregationStrategy: "simple",
  });
  $("compute").disabled = false;
}

async function evaluate(evalSet, labelNames) {
  const metric = new ner.SeqevalMetric();
  const loader = new ner.BatchLoader(evalSet.examples, { batchSize: 16, padId: state.tokenizer.padId });
  state.model.eval();
  for (const batch of loader.batches()) {
    const [logits] = await ner.noGrad(() =>
      ner.tidy(() => ner.readAll([state.model.forward(ner.toTokenBatch(batch, false)).logits]))
    );
    const pred = ner.argmaxLastAxis(logits, labelNames.length);
    const T = batch.seqLen;
    const predictions = [], references = [];
    for (let b = 0; b < batch.batchSize; b++) {
      const keep = [...Array(T).keys()].filter((t) => batch.labels[b * T + t] !== -100);
      references.push(keep.map((t) => labelNames[batch.labels[b * T + t]]));
      predictions.push(keep.map((t) => labelNames[pred[b * T + t]]));
    }
    metric.addBatch({ predictions, references });
  }
  return metric.compute();
}

async function train() {
  if (state.busy) return;
  state.busy = true;
  try {
    const n = Number($("train-n").value), epochs = Number($("epochs").value);
    status("loading CoNLL-2003 and the bert-base-cased tokenizer…");
    await ner.initGpu();
    const raw = await ner.loadConll2003(new URL("conll2003/", DATA));
    state.tokenizer = await ner.loadTokenizer(new URL("bert-base-cased/", DATA));
    const labelNames = [...raw.train.features.ner_tags.names];
    const trainSet = ner.tokenizeAndAlign(
      { ...raw.train, rows: raw.train.rows.slice(0, n) },
      state.tokenizer,
    );
    const evalSet = ner.tokenizeAndAlign(
      { ...raw.validation, rows: raw.validation.rows.slice(0, Math.max(16, Math.round(n / 4))) },
      state.tokenizer,
    );
    const hidden = Number($("hidden").value);
    state.model?.dispose?.();
    state.model = ner.BertForTokenClassification.random(ner.makeBertConfig({
      vocab_size: state.tokenizer.vocabSize,
      hidden_size: hidden,
      num_hidden_layers: Number($("layers").value),
      num_attention_heads: Number($("heads").value),
      intermediate_size: hidden * 2,
      max_position_embeddings: 512,
      labels: labelNames,
    }));
    const loader = new ner.BatchLoader(trainSet.examples, {
      batchSize: 8,
      padId: state.tokenizer.padId,
      shuffle: true,
    });
    const opt = new ner.AdamW(
      state.model.namedParameters().map(([name, param]) => ({
        param,
        weightDecay: state.model.decays(name) ? 0.01 : 0,
      })),
      { lr: Number($("lr").value) },
    );
    const total = epochs * loader.length;
    const schedule = { lr: Number($("lr").value), warmupSteps: 0, totalSteps: total, type: "linear" };
    let step = 0;
    const t0 = performance.now();
    $("progress").max = total;
    for (let epoch = 0; epoch < epochs; epoch++) {
      state.model.train();
      let sum = 0, count = 0;
      for (const batch of loader.batches(epoch)) {
        const [loss] = await ner.tidy(async () => {
          const out = state.model.forward(ner.toTokenBatch(batch));
          ner.backward(out.loss);
          return await ner.readAll([out.loss]);
        });
        opt.step(ner.learningRate(step, schedule));
        opt.zeroGrad();
        step++;
        sum += loss[0];
        count++;
        if (step === 1) state.firstStepMs = performance.now(); // ms since navigation start
        state.losses.push(loss[0]);
        $("progress").value = step;
        const secs = (performance.now() - t0) / 1000;
        $("progress-text").textContent = `step ${step}/${total} · epoch ${epoch + 1} · loss ${
          loss[0].toFixed(4)
        } · ${(step / secs).toFixed(2)} steps/s · ETA ${Math.round((total - step) * secs / step)} s`;
        drawCurve();
      }
      status(`epoch ${epoch + 1}: evaluating…`);
      const r = await evaluate(evalSet, labelNames);
      const row = {
        epoch: epoch + 1,
        loss: sum / count,
        precision: r.overall_precision,
        recall: r.overall_recall,
        f1: r.overall_f1,
        accuracy: r.overall_accuracy,
      };
      state.epochs.push(row);
      const tr = document.createElement("tr");
      tr.innerHTML = Object.values(row).map((v, i) => `<td>${i === 0 ? v : v.toFixed(4)}</td>`).join("");
      $("epochs-table").append(tr);
    }
    await usePipeline();
    state.trained = true;
    status(
      `trained ${total} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s; type some text below`,
    );
  } catch (e) {
    fail(e);
  } finally {
    state.busy = false;
  }
}

async function load() {
  if (state.busy) return;
  state.busy = true;
  try {
    const where = $("model-url").value.trim();
    status(`loading ${where}…`);
    await ner.initGpu();
    state.model?.dispose?.();
    state.model = (await ner.fromPretrained(where)).model;
    try {
      state.tokenizer = await ner.loadTokenizer(where.includes("://") ? where : undefined);
    } catch {
      state.tokenizer = await ner.loadTokenizer(new URL("bert-base-cased/", DATA)); // the folder has none
    }
    await usePipeline();
    state.loaded = where;
    status(`loaded ${where}; type some text below`);
  } catch (e) {
    fail(e);
  } finally {
    state.busy = false;
  }
}

async function compute() {
  try {
    const text = $("text").value;
    const entities = await state.pipe.run(text);
    $("output").innerHTML = ner.highlightHtml(text, entities);
    state.last = { text, entities };
    state.computed = (state.computed ?? 0) + 1;
  } catch (e) {
    fail(e);
  }
}

$("highlight-css").textContent = ner.HIGHLIGHT_CSS;
$("train").addEventListener("click", train);
$("load").addEventListener("click", load);
$("compute").addEventListener("click", compute);
$("text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) compute();
});
const q = new URLSearchParams(location.search);
for (
  const [k, id] of [
    ["train", "train-n"],
    ["epochs", "epochs"],
    ["hidden", "hidden"],
    ["heads", "heads"],
    ["layers", "layers"],
    ["lr", "lr"],
    ["model", "model-url"],
  ]
) {
  if (q.has(k)) $(id).value = q.get(k);
}
const adapter = await navigator.gpu?.requestAdapter();
status(
  adapter
    ? `ready (WebGPU: ${adapter.info?.vendor ?? ""} ${adapter.info?.architecture ?? ""})`
    : "this browser has no WebGPU",
);
state.ready = true;
if (q.get("autorun") === "1") (q.has("model") ? load : train)();
