// The Trainer writing through a FileStore other than Deno's file system (a MemoryStore, as in a browser
// tab): the same run writes the same files, byte for byte, as to disk (checkpoints, rotation, log, final
// folder), nothing reaches the disk, the final folder reloads from the store with the trained weights, a
// run resumed from a store checkpoint continues exactly, and `writeFiles: false` writes nothing.
import { assert, assertEquals } from "../_assert.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { BERT_BASE_CASED_DIR, loadTokenizer } from "../../src/data/tokenizer.ts";
import { tokenizeAndAlign } from "../../src/data/prepare.ts";
import { fromPretrained } from "../../src/model/pretrained.ts";
import { readAll } from "../../src/engine/tensor.ts";
import { DenoFileStore } from "../../src/io/deno_store.ts";
import { type FileStore, MemoryStore } from "../../src/io/storage.ts";
import { listFiles } from "../../src/io/store_files.ts";
import { DEFAULT_TRAINING_ARGS, type TrainingArguments } from "../../src/train/args.ts";
import { listCheckpoints } from "../../src/train/checkpoint.ts";
import { Trainer, type TrainerOptions, type TrainResult } from "../../src/train/trainer.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();
const FIXTURE = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;
const data = await loadConll2003();
const tokenizer = await loadTokenizer();
const NAMES = data.train.features.ner_tags.names;
const train = tokenizeAndAlign({ ...data.train, rows: data.train.rows.slice(0, 16) }, tokenizer, {
  maxLength: 64,
}).examples;

function args(outputDir: string, over: Partial<TrainingArguments> = {}): TrainingArguments {
  return {
    ...DEFAULT_TRAINING_ARGS,
    outputDir,
    learningRate: 3e-3,
    perDeviceTrainBatchSize: 4,
    maxSteps: 4,
    loggingSteps: 1,
    evalStrategy: "no",
    saveStrategy: "steps",
    saveSteps: 2,
    ...over,
  };
}

async function run(
  a: TrainingArguments,
  over: Partial<TrainerOptions> = {},
): Promise<{ result: TrainResult; params: Float32Array[] }> {
  const { model } = await fromPretrained(FIXTURE, { labels: NAMES });
  const trainer = new Trainer({
    model,
    args: a,
    train,
    padId: tokenizer.padId,
    progress: false,
    tokenizerDir: BERT_BASE_CASED_DIR,
    ...over,
  });
  const result = await trainer.train();
  const params = (await readAll([...model.params.values()])) as Float32Array[];
  trainer.optimizer.dispose();
  model.dispose();
  return { result, params };
}

const losses = (h: Record<string, unknown>[]) =>
  h.filter((e) => typeof e.loss === "number").map((e) => e.loss);

/** Files whose bytes hold the run's wall-clock time (train_runtime, samples per second). */
const TIMED = new Set(["train_log.jsonl", "trainer_state.json", "README.md", "all_results.json"]);

Deno.test("trainer: into a MemoryStore the run writes the same files as to disk, and nothing to disk", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/run`; // the same path in both stores: training_args.json holds it
  try {
    const mem = new MemoryStore();
    const inMem = await run(args(out, { saveTotalLimit: 1 }), { store: mem });
    assertEquals(await Array.fromAsync(Deno.readDir(dir)), [], "the MemoryStore run wrote to disk");
    const onDisk = await run(args(out, { saveTotalLimit: 1 }));
    const disk = new DenoFileStore();
    const files = await listFiles(mem, out);
    assertEquals(files, await listFiles(disk, out));
    assert(files.includes("checkpoint-4/optimizer.safetensors"), `${files}`);
    assert(!files.some((f) => f.startsWith("checkpoint-2/")), "checkpoint-2 was not rotated away");
    for (const f of ["model.safetensors", "config.json", "tokenizer.json", "training_curve.svg"]) {
      assert(files.includes(f), `final folder lacks ${f}`);
    }
    for (const f of files) {
      const [a, b] = [await mem.readFile(`${out}/${f}`), await disk.readFile(`${out}/${f}`)];
      if (TIMED.has(f)) continue;
      assert(a.length === b.length && a.every((x, i) => x === b[i]), `${f} differs between the stores`);
    }
    const logLines = async (s: FileStore) =>
      new TextDecoder().decode(await s.readFile(`${out}/train_log.jsonl`)).trim().split("\n");
    assertEquals((await logLines(mem)).slice(0, 4), (await logLines(disk)).slice(0, 4));
    assertEquals(losses(inMem.result.state.log_history), losses(onDisk.result.state.log_history));
    assertEquals((await listCheckpoints(out, mem)).map((c) => c.step), [4]);

    // The final folder reloads from the store with the trained weights.
    const { model } = await fromPretrained(out, { store: mem });
    const got = await readAll([...model.params.values()]);
    model.dispose();
    got.forEach((g, i) => assert(g.every((v, j) => v === inMem.params[i][j]), `param ${i} differs`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainer: resumed from a checkpoint in a MemoryStore, the run ends as the uninterrupted one", async () => {
  const mem = new MemoryStore();
  const full = await run(args("runs/a"), { store: mem });
  // checkpoint-2 of the same run, continued to step 4 in another folder of the store.
  const resumed = await run(args("runs/a", { resumeFromCheckpoint: "runs/a/checkpoint-2" }), { store: mem });
  assertEquals(resumed.result.globalStep, 4);
  assertEquals(losses(resumed.result.state.log_history), losses(full.result.state.log_history));
  full.params.forEach((p, i) => assert(p.every((v, j) => v === resumed.params[i][j]), `param ${i}`));
  assertEquals((await listCheckpoints("runs/a", mem)).map((c) => c.step), [2, 4]);

  const nothing = new MemoryStore();
  await run(args("runs/b"), { store: nothing, writeFiles: false });
  assertEquals(await nothing.list(""), []);
});
