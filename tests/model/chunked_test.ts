// Row-chunked word embeddings (issue 11): with a forced tiny chunk size the BERT and RoBERTa parity
// fixtures give the same numbers as unchunked (bit-identical logits, the same parity report), save the
// same bytes under the single HF key and reload bit-identically; a Trainer run with checkpoints and resume
// is unchanged; and a vocabulary over the real device limit (50265 × 768 on lavapipe) builds, trains a
// step and saves.
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { setupGpu } from "../_util.ts";
import { runParity } from "../../src/model/parity.ts";
import { fromPretrained, modelSafetensors, savePretrained } from "../../src/model/pretrained.ts";
import {
  bindingLimitBytes,
  checkpointParameters,
  chunkRowsFor,
  parameterKey,
  setMaxChunkRows,
} from "../../src/model/chunked.ts";
import { makeModelConfig, randomModel } from "../../src/model/registry.ts";
import { readSafetensors, toFloat32, toInt32 } from "../../src/io/safetensors.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { checkParameterSizes } from "../../src/model/weight_checks.ts";
import { backward } from "../../src/engine/tape.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { AdamW, clipGradNorm } from "../../src/ops/adamw.ts";
import { gpu } from "../../src/engine/gpu.ts";
import type { TokenClassifier } from "../../src/model/classifier.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { BERT_BASE_CASED_DIR, loadTokenizer } from "../../src/data/tokenizer.ts";
import { tokenizeAndAlign } from "../../src/data/prepare.ts";
import { DEFAULT_TRAINING_ARGS, type TrainingArguments } from "../../src/train/args.ts";
import { Trainer } from "../../src/train/trainer.ts";

await setupGpu();

/** Asserts two files have the same bytes (reports the first difference, not the contents). */
async function assertSameBytes(a: string, b: string): Promise<void> {
  const [x, y] = [await Deno.readFile(a), await Deno.readFile(b)];
  assertEquals(x.length, y.length, `${a} vs ${b}: length`);
  const i = x.findIndex((v, k) => v !== y[k]);
  assert(i < 0, `${a} and ${b} differ first at byte ${i}`);
}

const fixture = (name: string) => new URL(`../fixtures/${name}/`, import.meta.url).pathname;

/** Runs `fn` with the word embeddings split every `rows` rows. */
async function chunkedBy<T>(rows: number, fn: () => Promise<T>): Promise<T> {
  setMaxChunkRows(rows);
  try {
    return await fn();
  } finally {
    setMaxChunkRows(null);
  }
}

/** Logits of the fixture's golden batch (eval mode) and the dispatch labels of that forward. */
async function goldenLogits(model: TokenClassifier, name: string) {
  const golden = await readSafetensors(`${fixture(name)}golden.safetensors`);
  const ids = golden.tensors.get("input_ids")!;
  const [B, T] = ids.shape;
  return await tidy(async () => {
    model.eval();
    const { result, labels } = await traceDispatches(() =>
      model.forward({
        batch: B,
        seqLen: T,
        inputIds: toInt32(ids, "input_ids"),
        attentionMask: toInt32(golden.tensors.get("attention_mask")!, "attention_mask"),
      })
    );
    const [logits] = await readAll([result.logits]);
    return { logits: logits as Float32Array, labels };
  });
}

const FIXTURES: [string, string][] = [
  ["bert-tiny-parity", "bert.embeddings.word_embeddings.weight"],
  ["roberta-tiny-parity", "roberta.embeddings.word_embeddings.weight"],
];

for (const [name, key] of FIXTURES) {
  Deno.test(`chunked embeddings: ${name} with 333-row chunks gives the same parity numbers and logits`, async () => {
    const golden = `${fixture(name)}golden.safetensors`;
    const plain = await runParity(fixture(name), golden);
    const chunked = await chunkedBy(333, () => runParity(fixture(name), golden));
    assertEquals(chunked.failures, []);
    assertEquals(chunked, plain); // every number of the report, bit for bit

    const { model: whole } = await fromPretrained(fixture(name));
    const { model } = await chunkedBy(333, () => fromPretrained(fixture(name)));
    try {
      assert(whole.params.has(key) && !model.params.has(key), "the chunk override did not apply");
      const chunks = [...model.params.keys()].filter((n) => parameterKey(n) === key);
      const vocab = whole.params.get(key)!.shape[0];
      assertEquals(chunks.length, Math.ceil(vocab / 333));
      assertEquals(chunks[0], `${key}[0:333]`);
      assertEquals(chunks.at(-1), `${key}[${333 * (chunks.length - 1)}:${vocab}]`);
      assertEquals(model.numParameters(), whole.numParameters());
      const a = await goldenLogits(whole, name), b = await goldenLogits(model, name);
      assertEquals([...b.logits], [...a.logits]); // bit-identical
      assertEquals(b.labels.filter((l) => l === "embedding.forward_chunk").length, chunks.length);
      assert(!a.labels.includes("embedding.forward_chunk"), "whole table ran the chunk kernel");
      // p() of a chunked table explains itself; table() gives the chunks
      assertThrows(() => (model as unknown as { p(n: string): unknown }).p(key), Error, "row chunks");

      // Saving writes the one HF key, byte for byte what the whole table writes; reloading is bit-identical.
      const bytes = await modelSafetensors(model);
      assertEquals(bytes, await modelSafetensors(whole));
      const dir = await Deno.makeTempDir();
      try {
        await savePretrained(model, dir);
        const file = await readSafetensors(`${dir}/model.safetensors`);
        assertEquals(file.tensors.get(key)!.shape, whole.params.get(key)!.shape);
        assert(![...file.tensors.keys()].some((k) => k.includes("[")), "a chunk name reached the file");
        const { model: again } = await chunkedBy(333, () => fromPretrained(dir));
        try {
          assertEquals(await modelSafetensors(again), bytes);
          assertEquals([...again.params.keys()], [...model.params.keys()]);
        } finally {
          again.dispose();
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    } finally {
      model.dispose();
      whole.dispose();
    }
  });
}

Deno.test("chunked embeddings: a Trainer run with clipping, decay, checkpoints and resume is unchanged by chunking", async () => {
  const data = await loadConll2003();
  const tokenizer = await loadTokenizer();
  const names = data.train.features.ner_tags.names;
  const train = tokenizeAndAlign({ ...data.train, rows: data.train.rows.slice(0, 12) }, tokenizer, {
    maxLength: 48,
  }).examples;
  const args = (outputDir: string, over: Partial<TrainingArguments> = {}): TrainingArguments => ({
    ...DEFAULT_TRAINING_ARGS,
    outputDir,
    learningRate: 3e-3,
    weightDecay: 0.01,
    maxGradNorm: 1.0,
    perDeviceTrainBatchSize: 4,
    numTrainEpochs: 2,
    loggingSteps: 1,
    evalStrategy: "no",
    saveStrategy: "steps",
    saveSteps: 3,
    ...over,
  });
  const run = async (a: TrainingArguments) => {
    const { model } = await fromPretrained(fixture("bert-tiny-parity"), { labels: names });
    const trainer = new Trainer({
      model,
      args: a,
      train,
      padId: tokenizer.padId,
      progress: false,
      tokenizerDir: BERT_BASE_CASED_DIR,
    });
    const r = await trainer.train();
    trainer.optimizer.dispose();
    model.dispose();
    return r.state.log_history.filter((e) => typeof e.loss === "number").map((e) => e.loss);
  };
  const plain = await Deno.makeTempDir(), chunked = await Deno.makeTempDir();
  try {
    // Without clipping every step is bit-identical (clipping: see below).
    const lossPlain = await run(args(plain, { maxGradNorm: 0 }));
    // 28996 rows in chunks of 5000: five full chunks and one of 3996
    const lossChunked = await chunkedBy(5000, () => run(args(chunked, { maxGradNorm: 0 })));
    assertEquals(lossChunked, lossPlain);
    for (
      const f of ["model.safetensors", "checkpoint-3/model.safetensors", "checkpoint-3/optimizer.safetensors"]
    ) {
      await assertSameBytes(`${chunked}/${f}`, `${plain}/${f}`);
    }
    const opt = await readSafetensors(`${chunked}/checkpoint-3/optimizer.safetensors`);
    assertEquals(opt.tensors.get("exp_avg.bert.embeddings.word_embeddings.weight")!.shape, [28996, 32]);
    // Resuming the chunked run from its step-3 checkpoint continues with the same losses and weights.
    await Deno.remove(`${chunked}/checkpoint-6`, { recursive: true });
    const resumed = await chunkedBy(
      5000,
      () => run(args(chunked, { maxGradNorm: 0, resumeFromCheckpoint: `${chunked}/checkpoint-3` })),
    );
    assertEquals(resumed, lossPlain);
    await assertSameBytes(`${chunked}/model.safetensors`, `${plain}/model.safetensors`);
  } finally {
    await Deno.remove(plain, { recursive: true });
    await Deno.remove(chunked, { recursive: true });
  }
  // With clipping the global norm sums the table's squares in other partial groups (per chunk), so the
  // clip scale may differ in its last bit: the weights agree to float rounding.
  const clipPlain = await Deno.makeTempDir(), clipChunked = await Deno.makeTempDir();
  try {
    await run(args(clipPlain, { saveStrategy: "no" }));
    await chunkedBy(5000, () => run(args(clipChunked, { saveStrategy: "no" })));
    const a = await readSafetensors(`${clipPlain}/model.safetensors`);
    const b = await readSafetensors(`${clipChunked}/model.safetensors`);
    assertEquals([...b.tensors.keys()], [...a.tensors.keys()]);
    for (const [name, t] of a.tensors) {
      const x = toFloat32(t, name), y = toFloat32(b.tensors.get(name)!, name);
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
      assert(worst <= 1e-6, `${name}: clipped runs differ by ${worst}`);
    }
  } finally {
    await Deno.remove(clipPlain, { recursive: true });
    await Deno.remove(clipChunked, { recursive: true });
  }
});

Deno.test("chunked embeddings: roberta with vocab 50265 × 768 (over the device's binding limit) builds, trains a step and saves", async () => {
  const key = "roberta.embeddings.word_embeddings.weight";
  const limit = bindingLimitBytes();
  assert(50265 * 768 * 4 > limit, `this device binds ${limit} bytes: the test needs a table over it`);
  const config = makeModelConfig("roberta", {
    vocab_size: 50265,
    hidden_size: 768,
    num_hidden_layers: 1,
    num_attention_heads: 12,
    intermediate_size: 64,
    max_position_embeddings: 32,
  }, ["O", "B-X", "I-X"]);
  const inUse = gpu().memory().inUseCount;
  const model = randomModel(config, 7).train();
  const opt = new AdamW(
    model.namedParameters().map(([n, param]) => ({
      param,
      weightDecay: model.decays(parameterKey(n)) ? 0.01 : 0,
    })),
    { lr: 1e-3 },
  );
  const dir = await Deno.makeTempDir();
  try {
    const table = checkpointParameters(model.params).find((p) => p.key === key)!;
    assert(table.chunked && table.parts.length === Math.ceil(50265 / chunkRowsFor(key, [50265, 768])!));
    assertEquals(table.shape, [50265, 768]);
    const B = 2, T = 9;
    const ids = Int32Array.from({ length: B * T }, (_, i) => [0, 50264, 3, 40000, 1, 2][i % 6]);
    const mask = new Int32Array(B * T).fill(1);
    const labels = Int32Array.from({ length: B * T }, (_, i) => i % 3);
    const before = await readAll(table.parts.map((t) => t));
    const { loss, norm } = await tidy(async () => {
      const out = model.forward({ batch: B, seqLen: T, inputIds: ids, attentionMask: mask, labels });
      backward(out.loss!);
      const { norm, scale } = clipGradNorm([...model.params.values()], 1.0);
      opt.step(undefined, scale);
      const [l, n] = await readAll([out.loss!, norm]);
      return { loss: l[0], norm: n[0] };
    });
    assert(
      Number.isFinite(loss) && loss > 0 && Number.isFinite(norm) && norm > 0,
      `loss ${loss}, norm ${norm}`,
    );
    // rows of the ids moved (in the last chunk too), others only by weight decay
    const after = await readAll(table.parts.map((t) => t));
    const per = table.parts[0].shape[0];
    const moved = (row: number) => {
      const k = Math.floor(row / per), o = (row - k * per) * 768;
      return Math.abs(after[k][o] - before[k][o]);
    };
    assert(moved(50264) > 1e-4 && moved(40000) > 1e-4, "looked-up rows did not move");
    assert(moved(12345) < 1e-6, "an unused row moved more than weight decay");
    await savePretrained(model, dir);
    const file = await readSafetensors(`${dir}/model.safetensors`);
    assertEquals(file.tensors.get(key)!.shape, [50265, 768]);
    // and loads back into chunks, bit-identically
    const { model: again } = await fromPretrained(dir);
    try {
      assert(!again.params.has(key) && again.params.has(`${key}[0:${per}]`), "reloaded table is not chunked");
      const bytes = await modelSafetensors(again), onDisk = await Deno.readFile(`${dir}/model.safetensors`);
      assert(bytes.length === onDisk.length && bytes.every((v, i) => v === onDisk[i]), "reload differs");
    } finally {
      again.dispose();
    }
    const saved = toFloat32(file.tensors.get(key)!, key);
    assertEquals(
      saved.subarray(50264 * 768, 50264 * 768 + 4),
      (after.at(-1) as Float32Array).subarray(
        (50264 - per * (table.parts.length - 1)) * 768,
        (50264 - per * (table.parts.length - 1)) * 768 + 4,
      ),
    );
  } finally {
    opt.zeroGrad();
    opt.dispose();
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
  assertEquals(gpu().memory().inUseCount, inUse, "GPU tensors left alive");
});

Deno.test("chunked embeddings: size checks, names and grouping", () => {
  const key = "roberta.embeddings.word_embeddings.weight";
  // roberta-base / xlm-roberta-large sizes pass the size check; absurd ones are still refused, naming the field
  checkParameterSizes([[key, [50265, 768]], [key, [250002, 1024]]], "config.json", {});
  assertThrows(
    () => checkParameterSizes([[key, [10_000_000, 768]]], "config.json", { vocab_size: 10_000_000 }),
    RangeError,
    "config.json: vocab_size 10000000 makes roberta.embeddings.word_embeddings.weight",
  );
  // only word-embedding tables are chunked; other parameters over the limit stay an error
  const rows = Math.ceil(bindingLimitBytes() / (4 * 768)) + 1;
  assertEquals(chunkRowsFor("roberta.encoder.layer.0.intermediate.dense.weight", [rows, 768]), null);
  assertThrows(
    () => checkParameterSizes([["roberta.encoder.layer.0.intermediate.dense.weight", [rows, 768]]], "c"),
    RangeError,
    "over this device's",
  );
  assertEquals(chunkRowsFor(key, [100, 768]), null);
  assert(chunkRowsFor(key, [rows, 768])! * 768 * 4 <= bindingLimitBytes());
  assertEquals(parameterKey(`${key}[0:10]`), key);
  assertEquals(parameterKey(key), key);
  assertThrows(() => setMaxChunkRows(0), RangeError, "positive integer");
  // chunks must cover the rows in order
  tidy(() => {
    const t = (r: number) => Tensor.from(new Float32Array(r * 2), [r, 2]);
    const grouped = checkpointParameters(
      new Map([["a", t(1)], [`${key}[0:3]`, t(3)], [`${key}[3:4]`, t(1)]]),
    );
    assertEquals(grouped.map((p) => [p.key, p.shape, p.parts.length]), [["a", [1, 2], 1], [key, [4, 2], 2]]);
    assertThrows(() => checkpointParameters(new Map([[`${key}[1:4]`, t(3)]])), Error, "does not follow");
    assertThrows(
      () => checkpointParameters(new Map([[`${key}[0:3]`, t(3)], [`${key}[4:5]`, t(1)]])),
      Error,
      "rows out of order",
    );
  });
});
