/**
 * Validation of a checkpoint folder's JSON files before resuming: `trainer_state.json` and
 * `rng_state.json` must hold every field the Trainer reads, with the right types (an empty `{}` used to
 * crash with a TypeError). Errors name the file and the field. Fields this project adds to HF's
 * `trainer_state.json` (`loss_since_log`, `steps_since_log`, `num_input_tokens_seen`) default to 0.
 * @module
 */
import type { RngState, TrainerState } from "./checkpoint.ts";

/** A checkpoint file that is missing, unreadable or lacks a field; the message names file and field. */
export class CheckpointError extends Error {
  /** The file. */
  readonly file: string;
  /** The field, when one is at fault. */
  readonly field: string | undefined;

  /** Creates the error. */
  constructor(file: string, field: string | undefined, reason: string) {
    super(`${file}: ${field ? `${field}: ` : ""}${reason}`);
    this.name = "CheckpointError";
    this.file = file;
    this.field = field;
  }
}

type _Kind = "count" | "number" | "number?" | "string?" | "array";

const _STATE: Record<string, _Kind> = {
  global_step: "count",
  epoch: "number",
  max_steps: "count",
  num_train_epochs: "number",
  logging_steps: "number",
  eval_steps: "number",
  save_steps: "number",
  train_batch_size: "count",
  best_metric: "number?",
  best_model_checkpoint: "string?",
  log_history: "array",
};
const _STATE_DEFAULTS = { loss_since_log: 0, steps_since_log: 0, num_input_tokens_seen: 0 };
const _RNG: Record<string, _Kind> = { dropout: "number", loaderSeed: "number", microBatches: "count" };

function _check(value: unknown, kind: _Kind): boolean {
  switch (kind) {
    case "count":
      return Number.isInteger(value) && (value as number) >= 0;
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "number?":
      return value === null || (typeof value === "number" && Number.isFinite(value));
    case "string?":
      return value === null || typeof value === "string";
    case "array":
      return Array.isArray(value) && value.every((e) => typeof e === "object" && e !== null);
  }
}

const _EXPECTED: Record<_Kind, string> = {
  count: "a non-negative integer",
  number: "a finite number",
  "number?": "a finite number or null",
  "string?": "a string or null",
  array: "a list of objects",
};

function _validate(value: unknown, file: string, fields: Record<string, _Kind>): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CheckpointError(file, undefined, "must hold a JSON object");
  }
  const obj = value as Record<string, unknown>;
  for (const [field, kind] of Object.entries(fields)) {
    if (!(field in obj)) throw new CheckpointError(file, field, `missing (expected ${_EXPECTED[kind]})`);
    if (!_check(obj[field], kind)) {
      throw new CheckpointError(file, field, `is ${JSON.stringify(obj[field])}, expected ${_EXPECTED[kind]}`);
    }
  }
  return obj;
}

async function _readJson(file: string, optional = false): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (optional && e instanceof Deno.errors.NotFound) return undefined;
    const why = e instanceof Deno.errors.NotFound ? "missing" : (e as Error).message;
    throw new CheckpointError(file, undefined, `${why} (is this a checkpoint-* folder?)`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(file, undefined, `invalid JSON: ${(e as Error).message}`);
  }
}

/** Validates a parsed trainer_state.json; returns it with this project's extra fields defaulted. */
export function validateTrainerState(value: unknown, file: string): TrainerState {
  const obj = _validate(value, file, _STATE);
  for (const [k, d] of Object.entries(_STATE_DEFAULTS)) {
    if (obj[k] === undefined) obj[k] = d;
    else if (typeof obj[k] !== "number" || !Number.isFinite(obj[k])) {
      throw new CheckpointError(file, k, `is ${JSON.stringify(obj[k])}, expected a finite number`);
    }
  }
  return obj as unknown as TrainerState;
}

/** Validates a parsed rng_state.json. */
export function validateRngState(value: unknown, file: string): RngState {
  return _validate(value, file, _RNG) as unknown as RngState;
}

/** Reads and validates a checkpoint folder's JSON files (training_args.json and config.json optional). */
export async function validateCheckpointFiles(dir: string): Promise<{
  state: TrainerState;
  rng: RngState;
  args: Record<string, unknown>;
  config: Record<string, unknown> | null;
}> {
  const state = validateTrainerState(
    await _readJson(`${dir}/trainer_state.json`),
    `${dir}/trainer_state.json`,
  );
  const rng = validateRngState(await _readJson(`${dir}/rng_state.json`), `${dir}/rng_state.json`);
  const args = (await _readJson(`${dir}/training_args.json`, true) ?? {}) as Record<string, unknown>;
  const config = (await _readJson(`${dir}/config.json`, true) ?? null) as Record<string, unknown> | null;
  return { state, rng, args, config };
}
