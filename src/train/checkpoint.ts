/**
 * Trainer checkpoints: `checkpoint-<step>/` folders holding what `from_pretrained` needs (config.json,
 * model.safetensors, tokenizer files) plus the optimizer moments (`optimizer.safetensors`), the schedule
 * (`scheduler.json`), RNG and data-loader position (`rng_state.json`), `trainer_state.json` (HF's log
 * history) and `training_args.json`. Each folder is written to a temporary name, fsynced and renamed, so
 * a crash or kill never leaves a half-written checkpoint. Rotation honours `saveTotalLimit` and never
 * deletes the best checkpoint. Every function takes an optional {@link FileStore} (default Deno's file
 * system, unchanged); in another store a folder is staged and committed (`../io/store_files.ts`).
 * @module
 */
import { type FileStore, readFileText } from "../io/storage.ts";
import { defaultStore, isDenoStore } from "../io/deno_store.ts";
import { writeDirCommitted } from "../io/store_files.ts";
import { validateRngState, validateTrainerState } from "./checkpoint_validate.ts";
import { readSafetensors, serializeSafetensors, toFloat32 } from "../io/safetensors.ts";
import type { AdamW } from "../ops/adamw.ts";
import { readAll, type Tensor } from "../engine/tensor.ts";
import { type CheckpointParameter, checkpointParameters, writeParameter } from "../model/chunked.ts";
import type { TokenClassifier } from "../model/classifier.ts";
import { pretrainedFiles } from "../model/pretrained.ts";
import { GradScaler, type GradScalerState, SCALER_FILE } from "./grad_scaler.ts";

/** One entry of HF's `log_history`. */
export type LogEntry = Record<string, number | string>;

/** HF's `trainer_state.json` fields this project writes and reads. */
export interface TrainerState {
  global_step: number;
  epoch: number;
  max_steps: number;
  num_train_epochs: number;
  logging_steps: number;
  eval_steps: number;
  save_steps: number;
  train_batch_size: number;
  best_metric: number | null;
  best_model_checkpoint: string | null;
  log_history: LogEntry[];
  /** Loss summed since the last log, and steps it covers (so a resumed run logs the same averages). */
  loss_since_log: number;
  steps_since_log: number;
  /** Tokens seen (for throughput). */
  num_input_tokens_seen: number;
}

/** Data-loader position and RNG streams (`rng_state.json`). */
export interface RngState {
  /** Dropout seed stream position. */
  dropout: number;
  /** Loader seed (the epoch order derives from it). */
  loaderSeed: number;
  /** Micro-batches consumed in total (per process). */
  microBatches: number;
  /** Processes of the data-parallel run that wrote it (absent: 1); resume needs the same number. */
  numProcesses?: number;
}

/** Everything needed to continue a run. */
export interface CheckpointContents {
  state: TrainerState;
  rng: RngState;
  scheduler: Record<string, unknown>;
  args: Record<string, unknown>;
  /** The loss scaler of an `fp16` run (`scaler.json`; HF: `scaler.pt`), absent otherwise. */
  scaler?: GradScalerState;
}

/** The step number of a `checkpoint-<step>` folder name, or null. */
export function checkpointStep(name: string): number | null {
  const m = /^checkpoint-(\d+)$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Checkpoint folders in `outputDir` (in `store` when given), oldest (lowest step) first. */
export async function listCheckpoints(
  outputDir: string,
  store?: FileStore,
): Promise<{ path: string; step: number }[]> {
  const out: { path: string; step: number }[] = [];
  const s = store ?? defaultStore();
  if (!isDenoStore(s)) {
    for (const name of await s.list(outputDir)) {
      const step = checkpointStep(name);
      const path = `${outputDir}/${name}`;
      if (step !== null && (await s.list(path)).length > 0) out.push({ path, step }); // a folder
    }
    return out.sort((a, b) => a.step - b.step);
  }
  try {
    for await (const e of Deno.readDir(outputDir)) {
      const step = e.isDirectory ? checkpointStep(e.name) : null;
      if (step !== null) out.push({ path: `${outputDir}/${e.name}`, step });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a.step - b.step);
}

/** Writes `checkpoint-<step>` atomically (into `store` when given) and returns its path. */
export async function saveCheckpoint(
  outputDir: string,
  model: TokenClassifier,
  optimizer: AdamW,
  contents: CheckpointContents,
  tokenizerDir?: string | URL,
  store?: FileStore,
): Promise<string> {
  const dir = `${outputDir}/checkpoint-${contents.state.global_step}`;
  // One entry per checkpoint key: a row-chunked parameter's moments are written chunk after chunk.
  const grouped = checkpointParameters(model.params);
  const moments = grouped.map((p) => p.parts.map((t) => optimizer.moments(t)));
  const data = await readAll(moments.flatMap((ms) => [...ms.map((m) => m.m), ...ms.map((m) => m.v)]));
  let k = 0;
  const tensors = grouped.flatMap((p, i) => {
    const m = moments[i].map(() => data[k++] as Float32Array);
    const v = moments[i].map(() => data[k++] as Float32Array);
    return [
      { name: `exp_avg.${p.key}`, dtype: "F32" as const, shape: p.shape, data: m },
      { name: `exp_avg_sq.${p.key}`, dtype: "F32" as const, shape: p.shape, data: v },
    ];
  });
  const files = {
    ...await pretrainedFiles(model, { tokenizerDir, store }),
    "optimizer.safetensors": serializeSafetensors(tensors, { step: String(optimizer.stepCount) }),
    "scheduler.json": JSON.stringify(contents.scheduler, null, 2) + "\n",
    "rng_state.json": JSON.stringify(contents.rng, null, 2) + "\n",
    "trainer_state.json": JSON.stringify(contents.state, null, 2) + "\n",
    "training_args.json": JSON.stringify(contents.args, null, 2) + "\n",
    ...(contents.scaler ? { [SCALER_FILE]: JSON.stringify(contents.scaler, null, 2) + "\n" } : {}),
  };
  await writeDirCommitted(store ?? defaultStore(), dir, files); // Deno: writeDirAtomic
  return dir;
}

/**
 * Restores parameters and optimizer moments from a checkpoint folder (in `store` when given) into an
 * existing model/optimizer (same config), and returns the run state.
 */
export async function loadCheckpoint(
  dir: string,
  model: TokenClassifier,
  optimizer: AdamW,
  store?: FileStore,
): Promise<CheckpointContents> {
  const readJson = async (name: string) => {
    try {
      return JSON.parse(await readFileText(`${dir}/${name}`, store));
    } catch (e) {
      throw new Error(`checkpoint ${dir}: cannot read ${name}: ${(e as Error).message}`, { cause: e });
    }
  };
  // Validated: a missing or mistyped field is an error naming the file and field (not a TypeError later).
  const state = validateTrainerState(await readJson("trainer_state.json"), `${dir}/trainer_state.json`);
  const rng = validateRngState(await readJson("rng_state.json"), `${dir}/rng_state.json`);
  const scheduler = await readJson("scheduler.json");
  const args = await readJson("training_args.json");
  // Only fp16 runs write scaler.json; a malformed one is an error naming the file and field.
  const scaler = await readJson(SCALER_FILE).then(
    (s) => GradScaler.fromState(s, `${dir}/${SCALER_FILE}`).stateDict(),
    (e: Error) => {
      if ((e.cause as Error | undefined)?.name === "NotFound") return undefined;
      throw e;
    },
  );
  const weights = await readSafetensors(`${dir}/model.safetensors`, store);
  const opt = await readSafetensors(`${dir}/optimizer.safetensors`, store);
  // A row-chunked parameter (and its moments) is one tensor in the files, split over its chunks here.
  const upload = (p: CheckpointParameter, key: string, file: typeof weights, parts: Tensor[]) => {
    const t = file.tensors.get(key);
    if (!t) throw new Error(`checkpoint ${dir}: '${key}' is missing`);
    const data = toFloat32(t, key);
    if (data.length !== parts.reduce((s, x) => s + x.size, 0)) {
      throw new Error(`checkpoint ${dir}: '${key}' has the wrong size for ${p.key}`);
    }
    writeParameter({ ...p, parts }, data);
  };
  for (const p of checkpointParameters(model.params)) {
    upload(p, p.key, weights, p.parts);
    const ms = p.parts.map((t) => optimizer.moments(t));
    upload(p, `exp_avg.${p.key}`, opt, ms.map((m) => m.m));
    upload(p, `exp_avg_sq.${p.key}`, opt, ms.map((m) => m.v));
  }
  optimizer.setSteps(Number(opt.metadata?.step ?? state.global_step));
  model.seeds.setState(rng.dropout);
  return { state, rng, scheduler, args, ...(scaler ? { scaler } : {}) };
}

/**
 * Deletes the oldest checkpoints beyond `limit`, never the `keep` one (the best model). Returns the paths
 * deleted.
 */
export async function rotateCheckpoints(
  outputDir: string,
  limit: number | null,
  keep: string | null,
  store?: FileStore,
): Promise<string[]> {
  if (limit === null) return [];
  const s = store ?? defaultStore();
  const all = await listCheckpoints(outputDir, s);
  const deletable = all.filter((c) => c.path !== keep);
  const excess = all.length - limit;
  const removed: string[] = [];
  for (const c of deletable.slice(0, Math.max(0, excess))) {
    if (isDenoStore(s)) await Deno.remove(c.path, { recursive: true });
    else await s.remove(c.path);
    removed.push(c.path);
  }
  return removed;
}
