/**
 * What `deno task train` checks before loading any data or model, so a bad command line fails in a
 * second with one clear line: the output folder must be a writable folder (created if missing); stale
 * `*.tmp-*` entries a killed run left in it are removed (and a checkpoint caught between its two renames
 * restored); `--resume-from-checkpoint` must name an existing checkpoint (or `latest` find one) whose
 * `trainer_state.json` and `rng_state.json` are valid; training arguments that change the model or the
 * data order must equal the checkpoint's (unless `--allow-resume-changes`), others are reported. After
 * loading: a split must have examples with labels, and the tokenizer must fit the model's vocabulary.
 * @module
 */
import type { TokenizedExample } from "../data/prepare.ts";
import type { TrainCliOptions, TrainingArguments } from "./args.ts";
import { listCheckpoints } from "./checkpoint.ts";
import { validateCheckpointFiles } from "./checkpoint_validate.ts";

/** A problem found before (or right after) loading; the message is one line. */
export class PreflightError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PreflightError";
  }
}

/** Arguments whose change makes a resumed run a different run (model or data order). */
export const RESUME_FIXED_ARGS = [
  "seed",
  "perDeviceTrainBatchSize",
  "gradientAccumulationSteps",
  "groupByLength",
];
/** Arguments a resumed run may change (reported). */
const _RESUME_REPORTED = [
  "learningRate",
  "numTrainEpochs",
  "maxSteps",
  "weightDecay",
  "lrSchedulerType",
  "warmupSteps",
  "warmupRatio",
  "maxGradNorm",
  "adamBeta1",
  "adamBeta2",
  "adamEpsilon",
];
const _SIZE_FLAGS: [keyof TrainCliOptions, string][] = [
  ["hiddenSize", "hidden_size"],
  ["numHiddenLayers", "num_hidden_layers"],
  ["numAttentionHeads", "num_attention_heads"],
  ["intermediateSize", "intermediate_size"],
  ["maxPositionEmbeddings", "max_position_embeddings"],
];

function _flag(field: string): string {
  return "--" + field.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

async function _stat(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    // A path through a file ("file/sub") does not exist either; the caller then reports the file.
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw e;
  }
}

/**
 * Makes sure `dir` is a writable folder, or can be created: nothing is created here (a probe file, or a
 * probe folder in the nearest existing parent, is written and removed).
 */
export async function checkOutputDir(dir: string): Promise<void> {
  const st = await _stat(dir);
  if (st && !st.isDirectory) throw new PreflightError(`--output-dir ${dir} exists and is not a folder`);
  let parent = dir;
  while (!st && !(await _stat(parent))) {
    // The folder holding `parent`: "a/b" → "a", "/a" → "/", and a bare relative name ("out") → ".".
    const up = parent.includes("/")
      ? parent.replace(/\/+[^/]*\/*$/, "") || (parent.startsWith("/") ? "/" : ".")
      : ".";
    if (up === parent) break;
    parent = up;
  }
  try {
    if (st) {
      const probe = `${dir}/.write-probe-${Deno.pid}`;
      await Deno.writeFile(probe, new Uint8Array(1));
      await Deno.remove(probe);
    } else {
      const pst = await _stat(parent);
      if (pst && !pst.isDirectory) throw new Error(`${parent} is not a folder`);
      await Deno.remove(await Deno.makeTempDir({ dir: parent, prefix: ".write-probe-" }));
    }
  } catch (e) {
    throw new PreflightError(`--output-dir ${dir} is not writable: ${(e as Error).message}`);
  }
}

const _TMP = /^(.*)\.(tmp|old)-[0-9a-z]+$/;

/**
 * Removes what a killed save left in `dir`: `*.tmp-*` files and folders (unfinished writes) and
 * `*.old-*` folders whose target exists; an `.old-*` folder without its target (a kill between the
 * two renames of a folder write) is renamed back. Returns the names removed.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return removed;
    throw e;
  }
  for (const e of entries) {
    const m = _TMP.exec(e.name);
    if (!m) continue;
    const target = `${dir}/${m[1]}`;
    if (m[2] === "old" && e.isDirectory && !(await _stat(target))) {
      await Deno.rename(`${dir}/${e.name}`, target);
      continue;
    }
    try {
      await Deno.remove(`${dir}/${e.name}`, { recursive: true });
      removed.push(e.name);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err; // another rank removed it first
    }
  }
  return removed;
}

/** The local checkpoint folder `--resume-from-checkpoint` names, or null for a Hub repo. */
async function _resumeDir(args: TrainingArguments): Promise<string | null> {
  const r = args.resumeFromCheckpoint;
  if (!r) return null;
  if (r === "latest" || r === "true") {
    const all = await listCheckpoints(args.outputDir);
    if (!all.length) {
      throw new PreflightError(
        `--resume-from-checkpoint ${r}: no checkpoint-* folder in ${args.outputDir} to resume from`,
      );
    }
    return all[all.length - 1].path;
  }
  const st = await _stat(r);
  if (st) {
    if (!st.isDirectory) throw new PreflightError(`--resume-from-checkpoint ${r} is not a folder`);
    return r;
  }
  // Paths that are clearly local must exist; anything else may be a Hub repo id.
  if (r.startsWith("/") || r.startsWith(".") || r.includes("checkpoint-") || r.split("/").length > 2) {
    throw new PreflightError(`--resume-from-checkpoint ${r}: no such checkpoint folder`);
  }
  return null;
}

/** Differences between a checkpoint's training_args.json and this run's; fixed ones refused. */
export function resumeDifferences(
  saved: Record<string, unknown>,
  args: TrainingArguments,
): { fixed: string[]; reported: string[] } {
  const show = (field: string) =>
    `${_flag(field)} ${JSON.stringify(saved[field])} in the checkpoint, ${
      JSON.stringify((args as unknown as Record<string, unknown>)[field])
    } now`;
  const differs = (f: string) =>
    f in saved &&
    JSON.stringify(saved[f]) !== JSON.stringify((args as unknown as Record<string, unknown>)[f]);
  return {
    fixed: RESUME_FIXED_ARGS.filter(differs).map(show),
    reported: _RESUME_REPORTED.filter(differs).map(show),
  };
}

/**
 * Every check that needs no data and no model. Returns lines to print (reported argument changes, stale
 * files removed); throws {@link PreflightError} with one line.
 */
export async function preflightTrain(args: TrainingArguments, cli: TrainCliOptions): Promise<string[]> {
  const notes: string[] = [];
  await checkOutputDir(args.outputDir);
  const stale = await removeStaleTemps(args.outputDir);
  if (stale.length) notes.push(`train: removed unfinished files of an interrupted save: ${stale.join(", ")}`);
  const dir = await _resumeDir(args);
  if (!dir) return notes;
  const files = await validateCheckpointFiles(dir);
  const { fixed, reported } = resumeDifferences(files.args, args);
  if (cli.fromScratch && files.config) {
    for (const [flag, key] of _SIZE_FLAGS) {
      const v = cli[flag];
      if (v !== null && key in files.config && files.config[key] !== v) {
        fixed.push(`${_flag(flag)} ${v} now, ${key} ${files.config[key]} in the checkpoint`);
      }
    }
  }
  if (fixed.length && !cli.allowResumeChanges) {
    throw new PreflightError(
      `cannot resume from ${dir}: ${fixed.join("; ")} (they change the model or the data order; ` +
        `pass --allow-resume-changes to resume anyway)`,
    );
  }
  for (const d of [...fixed, ...reported]) notes.push(`train: resuming with a changed argument: ${d}`);
  return notes;
}

/** Refuses a split without rows, before any model is built (names the dataset and split). */
export function checkSplitHasRows(rows: number, dataset: string, split: string): void {
  if (rows === 0) {
    throw new PreflightError(
      `--dataset ${dataset}: the ${split} split has no examples (empty, or only -DOCSTART-)`,
    );
  }
}

/** Refuses a split without examples or without any labelled token (names the dataset and split). */
export function checkSplitUsable(
  examples: readonly TokenizedExample[],
  dataset: string,
  split: string,
): void {
  if (examples.length === 0) {
    throw new PreflightError(
      `--dataset ${dataset}: the ${split} split has no examples (empty, or only -DOCSTART-)`,
    );
  }
  const labelled = examples.some((e) => e.labels?.some((l) => l !== -100));
  if (!labelled) throw new PreflightError(`--dataset ${dataset}: the ${split} split has no labelled tokens`);
}

/** Refuses a tokenizer whose ids do not all exist in the model's embedding. */
export function checkTokenizerFits(tokenizerVocab: number, modelVocab: number, tokenizer: string): void {
  if (tokenizerVocab > modelVocab) {
    throw new PreflightError(
      `the tokenizer (${tokenizer}) has ${tokenizerVocab} tokens but the model's vocab_size is ${modelVocab}: ` +
        `use the model's own tokenizer (--tokenizer)`,
    );
  }
}
