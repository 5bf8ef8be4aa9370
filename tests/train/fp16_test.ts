// `fp16` training (HF's --fp16): autocast matmuls and dynamic loss scaling in the Trainer. A tiny run's
// losses are finite and close to the fp32 run's (grad norms too: the gradients are unscaled before
// clipping), the fp16 kernels really ran, and an overflowing loss scale skips steps — no optimizer or
// scheduler step, scale halved — then recovers, with the scaler state saved in checkpoints and resumed.
import { assert, assertEquals } from "../_assert.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { BERT_BASE_CASED_DIR, loadTokenizer } from "../../src/data/tokenizer.ts";
import { tokenizeAndAlign } from "../../src/data/prepare.ts";
import { fromPretrained } from "../../src/model/pretrained.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { DEFAULT_TRAINING_ARGS, type TrainingArguments } from "../../src/train/args.ts";
import { learningRate } from "../../src/train/schedule.ts";
import type { GradScalerOptions } from "../../src/train/grad_scaler.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { NonFiniteLossError } from "../../src/train/nonfinite.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();
const FIXTURE = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;
const data = await loadConll2003();
const tokenizer = await loadTokenizer();
const NAMES = data.train.features.ner_tags.names;
const train = tokenizeAndAlign({ ...data.train, rows: data.train.rows.slice(0, 48) }, tokenizer, {
  maxLength: 64,
}).examples;

function args(outputDir: string, over: Partial<TrainingArguments> = {}): TrainingArguments {
  return {
    ...DEFAULT_TRAINING_ARGS,
    outputDir,
    learningRate: 3e-3,
    perDeviceTrainBatchSize: 4,
    maxSteps: 10,
    loggingSteps: 1,
    evalStrategy: "no",
    saveStrategy: "no",
    ...over,
  };
}

async function run(a: TrainingArguments, gradScaler?: GradScalerOptions) {
  const inUse = gpu().memory().inUseCount;
  const { model } = await fromPretrained(FIXTURE, { labels: NAMES });
  const trainer = new Trainer({
    model,
    args: a,
    train,
    padId: tokenizer.padId,
    progress: false,
    tokenizerDir: BERT_BASE_CASED_DIR,
    saveFinal: false,
    gradScaler,
  });
  const { result, labels } = await traceDispatches(() => trainer.train());
  const scaler = trainer.gradScaler?.stateDict() ?? null;
  const skipped = trainer.gradScaler?.skippedSteps ?? 0;
  const optimizerSteps = trainer.optimizer.stepCount;
  trainer.optimizer.dispose();
  model.dispose();
  assertEquals(gpu().memory().inUseCount, inUse, "GPU tensors left alive after training");
  const logged = result.state.log_history.filter((e) => typeof e.loss === "number");
  return { result, labels, scaler, skipped, optimizerSteps, logged };
}

Deno.test("fp16: a tiny run's losses and grad norms are finite and close to fp32's; the f16 kernels ran", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fp32 = await run(args(`${dir}/fp32`));
    const fp16 = await run(args(`${dir}/fp16`, { fp16: true }));
    assertEquals(fp16.logged.length, 10);
    for (const [i, e] of fp16.logged.entries()) {
      const r = fp32.logged[i];
      const [l16, l32] = [e.loss as number, r.loss as number];
      const [n16, n32] = [e.grad_norm as number, r.grad_norm as number];
      assert(Number.isFinite(l16) && Number.isFinite(n16), `step ${i + 1}: ${l16}, ${n16}`);
      // Measured: equal to the logged 4 decimals at every step; the bound is 1e-3 relative.
      assert(Math.abs(l16 - l32) <= 1e-3 * l32, `step ${i + 1}: loss ${l16} vs fp32 ${l32}`);
      // Unscaled before clipping: a norm taken on scaled gradients would be 65536 times larger.
      assert(Math.abs(n16 - n32) <= 1e-3 * n32, `step ${i + 1}: grad_norm ${n16} vs fp32 ${n32}`);
    }
    // Not the fp32 run: the grad norms (logged unrounded) move by ~1e-5 relative (measured up to 4e-5).
    const moved = fp16.logged.filter((e, i) => {
      const n32 = fp32.logged[i].grad_norm as number;
      return Math.abs((e.grad_norm as number) - n32) > 2e-6 * n32;
    });
    assert(moved.length >= 5, `fp16 grad norms equal fp32's: ${moved.length} of 10 differ`);
    assertEquals(fp16.skipped, 0);
    assertEquals(fp16.optimizerSteps, 10);
    assertEquals(fp16.scaler?.scale, 65536);
    assertEquals(fp16.scaler?._growth_tracker, 10);
    assertEquals(fp32.scaler, null);
    // The fp16 staging and kernels ran under fp16, never under fp32.
    assert(fp16.labels.includes("matmul.pack_tex_f16"), "no fp16 staging in the fp16 run");
    assert(fp16.labels.some((l) => /^matmul\.mm_tex4?_f16$/.test(l)), "no fp16 GEMM in the fp16 run");
    assert(fp16.labels.includes("finite.unscale_check"), "the gradients were not unscaled");
    assert(!fp16.labels.some((l) => /^matmul\.mm_tex4?$/.test(l)), "an fp32 texture GEMM ran under fp16");
    assert(!fp32.labels.some((l) => l.endsWith("_f16") || l.startsWith("autocast.")), "fp16 kernels in fp32");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fp16: an overflowing loss scale skips steps (no AdamW or LR step, scale halves), recovers, resumes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 2^26: the scaled gradients overflow fp16 in the backward products until the scale has halved enough
    // (measured: 4 skipped steps, to 2^22).
    const over = { fp16: true, maxSteps: 12, saveStrategy: "steps" as const, saveSteps: 6 };
    const full = await run(args(`${dir}/full`, over), { initScale: 2 ** 26 });
    const k = full.skipped;
    assert(k >= 2 && k < 6, `skipped ${k} steps`);
    assertEquals(full.result.globalStep, 12); // skipped steps still count as steps (HF)
    assertEquals(full.optimizerSteps, 12 - k);
    assertEquals(full.scaler?.scale, 2 ** (26 - k));
    assertEquals(full.scaler?._growth_tracker, 12 - k);
    // The skipped steps are the first k: no grad_norm logged for them, the loss is.
    full.logged.forEach((e, i) => {
      assert(Number.isFinite(e.loss as number), `step ${i + 1} loss ${e.loss}`);
      assertEquals("grad_norm" in e, i >= k, `step ${i + 1}: grad_norm ${e.grad_norm}`);
    });
    // The scheduler only stepped for the 12 − k real steps (linear decay over 12 steps from 3e-3).
    const sched = { lr: 3e-3, warmupSteps: 0, totalSteps: 12, type: "linear" as const };
    assertEquals(full.logged[11].learning_rate, learningRate(12 - k, sched));
    assertEquals(full.logged[k - 1].learning_rate, learningRate(0, sched));
    // The loss still falls once steps are taken.
    const l = full.logged.map((e) => e.loss as number);
    assert(l[11] < l[k], `loss ${l[k]} → ${l[11]}`);
    // checkpoint-6 holds the scaler state (torch's state_dict keys) and the scheduler's own step count.
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/full/checkpoint-6/scaler.json`));
    assertEquals(saved, {
      scale: 2 ** (26 - k),
      growth_factor: 2,
      backoff_factor: 0.5,
      growth_interval: 2000,
      _growth_tracker: 6 - k,
    });
    const scheduler = JSON.parse(await Deno.readTextFile(`${dir}/full/checkpoint-6/scheduler.json`));
    assertEquals(scheduler.last_step, 6 - k);
    // Resuming restores scale, tracker and schedule: the same losses, learning rates and end state.
    const resumed = await run(
      args(`${dir}/full`, { ...over, resumeFromCheckpoint: `${dir}/full/checkpoint-6` }),
      { initScale: 2 ** 30 }, // ignored: the checkpoint's scaler wins
    );
    assertEquals(resumed.skipped, 0);
    assertEquals(resumed.scaler, full.scaler);
    assertEquals(resumed.optimizerSteps, full.optimizerSteps);
    const tail = (x: typeof full) => x.logged.filter((e) => (e.step as number) > 6);
    assertEquals(tail(resumed), tail(full));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fp16: a model that overflows at every step stops with NonFiniteLossError once the scale is below 2^-24", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // lr 1e6 without clipping blows the weights up at the first real step; every later step is NaN/Inf
    // and skipped, halving the scale from 2^-20 until it falls below 2^-24 (torch would skip forever).
    const { model } = await fromPretrained(FIXTURE, { labels: NAMES });
    const t = new Trainer({
      model,
      args: args(dir, { fp16: true, learningRate: 1e6, maxGradNorm: 0, maxSteps: 20, loggingSteps: 500 }),
      train,
      padId: tokenizer.padId,
      progress: false,
      saveFinal: false,
      gradScaler: { initScale: 2 ** -20 },
    });
    let error: unknown = null;
    try {
      await t.train();
    } catch (e) {
      error = e;
    }
    assert(error instanceof NonFiniteLossError, `no NonFiniteLossError: ${error}`);
    const skipped = t.gradScaler!.skippedSteps;
    assert(
      skipped >= 4 && t.gradScaler!.scale < 2 ** -24,
      `skipped ${skipped}, scale ${t.gradScaler!.scale}`,
    );
    // The step named is the first of the run of skipped steps, the last one is 20 or earlier.
    assert(error.step >= 2 && error.step + skipped - 1 <= 20, `step ${error.step}, ${skipped} skipped`);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n !== "train_log.jsonl"), []);
    t.optimizer.dispose();
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
