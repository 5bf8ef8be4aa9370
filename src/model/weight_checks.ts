/**
 * Checks `fromPretrained` runs before and after allocating a model: every parameter's size against the
 * device limits (an impossible size names the config.json field that makes it, before anything is
 * allocated), every weight's presence and shape in the checkpoint, no tensor in two shards, and after the
 * upload every weight finite (one GPU reduction for all tensors, one readback; the message names them).
 * @module
 */
import { gpu } from "../engine/gpu.ts";
import { readAll, type Tensor } from "../engine/tensor.ts";
import { countNonFinite } from "../ops/finite.ts";
import { chunkRowsFor, MAX_CHUNKED_BYTES } from "./chunked.ts";

/** The config.json field that sets a parameter's largest dimension (for messages). */
export function configFieldOf(name: string): string {
  if (name.includes("word_embeddings")) return "vocab_size";
  if (name.includes("position_embeddings")) return "max_position_embeddings";
  if (name.includes("token_type_embeddings")) return "type_vocab_size";
  if (name.startsWith("classifier.")) return "id2label (num_labels)";
  if (/intermediate\.dense|\.output\.dense\.weight$/.test(name) && !name.includes("attention")) {
    return "intermediate_size";
  }
  return "hidden_size";
}

function _gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Per-buffer byte limit of the current device (or 2 GiB before a device exists). */
function _bufferLimit(): { bytes: number; what: string } {
  try {
    const l = gpu().limits;
    return l.maxStorageBufferBindingSize <= l.maxBufferSize
      ? { bytes: l.maxStorageBufferBindingSize, what: "maxStorageBufferBindingSize" }
      : { bytes: l.maxBufferSize, what: "maxBufferSize" };
  } catch {
    return { bytes: 2 ** 31, what: "2 GiB" };
  }
}

/**
 * Throws a RangeError naming `configFile` and the field when a parameter shape from the config cannot be
 * allocated (not an integer size, or one tensor over the device's buffer limits). A word-embedding table
 * over the limit is stored as row chunks (`./chunked.ts`) and is refused only when one row exceeds the limit
 * or the whole exceeds {@link MAX_CHUNKED_BYTES} (16 GiB: surely a mistyped config). Allocates nothing.
 */
export function checkParameterSizes(
  shapes: Iterable<readonly [string, readonly number[]]>,
  configFile: string,
  config: Record<string, unknown> = {},
): void {
  const limit = _bufferLimit();
  for (const [name, shape] of shapes) {
    const elements = shape.reduce((a, b) => a * b, 1);
    const bytes = elements * 4;
    const field = configFieldOf(name);
    const value = field in config ? ` ${JSON.stringify(config[field])}` : "";
    if (!Number.isSafeInteger(elements) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new RangeError(`${configFile}: ${field}${value} gives ${name} an impossible shape [${shape}]`);
    }
    const chunked = Number.isSafeInteger(elements) && chunkRowsFor(name, shape) !== null;
    if (chunked ? bytes > MAX_CHUNKED_BYTES : bytes > limit.bytes) {
      if (chunked) {
        throw new RangeError(
          `${configFile}: ${field}${value} makes ${name} [${shape}] ${_gib(bytes)}, over the ` +
            `${_gib(MAX_CHUNKED_BYTES)} this project stores as row chunks; is ${field} right?`,
        );
      }
      throw new RangeError(
        `${configFile}: ${field}${value} makes ${name} [${shape}] ${_gib(bytes)}, over this device's ` +
          `${limit.what} (${_gib(limit.bytes)}); is ${field} right?`,
      );
    }
  }
}

/**
 * Checks presence and shape of every model parameter in the checkpoint before any weight is initialised:
 * only the head (`isHead`, default `classifier.*`) may be missing. Throws the loader's messages.
 */
export function checkCheckpointWeights(
  shapes: Iterable<readonly [string, readonly number[]]>,
  checkpoint: ReadonlyMap<string, { shape: readonly number[]; key: string }>,
  dir: string,
  isHead: (name: string) => boolean = (n) => n.startsWith("classifier."),
): void {
  const missing: string[] = [];
  for (const [name, shape] of shapes) {
    const w = checkpoint.get(name);
    if (!w) {
      if (!isHead(name)) missing.push(name);
    } else if (w.shape.join() !== shape.join()) {
      const hint = isHead(name)
        ? ` (the checkpoint's head has another label count; pass labels to train a new head)`
        : "";
      throw new RangeError(
        `${dir}: weight '${w.key}' has shape [${w.shape}], the model needs [${shape}]${hint}`,
      );
    }
  }
  if (missing.length) {
    throw new Error(
      `${dir}: the checkpoint lacks ${missing.length} model weights: ${missing.slice(0, 8).join(", ")}${
        missing.length > 8 ? ", …" : ""
      }`,
    );
  }
}

/** Throws when a tensor (by normalised name) was already read from another shard (buffers excepted). */
export function checkNotDuplicated(
  seen: ReadonlyMap<string, { key: string; file?: string }>,
  name: string,
  key: string,
  file: string,
): void {
  const before = seen.get(name);
  // position_ids is a buffer (not a weight) that torch.save puts in every shard; HF ignores it on load.
  if (before && !name.endsWith("embeddings.position_ids")) {
    throw new Error(
      `${file}: tensor '${key}' is also in ${before.file ?? "another shard"}${
        before.key === key ? "" : ` (as '${before.key}')`
      }: a tensor must be in exactly one shard`,
    );
  }
}

/** Thrown when loaded weights hold NaN or ±Inf. */
export class NonFiniteWeightsError extends Error {
  /** Creates the error for `source` with each tensor's count of non-finite values. */
  constructor(source: string, bad: readonly { name: string; count: number; size: number }[]) {
    const list = bad.slice(0, 5).map((b) => `${b.name} (${b.count} of ${b.size})`).join(", ");
    super(
      `${source}: ${bad.length} weight tensor${
        bad.length > 1 ? "s hold" : " holds"
      } NaN or infinite values: ` +
        `${list}${bad.length > 5 ? ", …" : ""}; the checkpoint is corrupt (or a diverged run)`,
    );
    this.name = "NonFiniteWeightsError";
  }
}

/** Names, counts and sizes of the tensors holding NaN/±Inf (one GPU reduction, one readback). */
export async function nonFiniteTensors(
  params: ReadonlyMap<string, Tensor>,
): Promise<{ name: string; count: number; size: number }[]> {
  const entries = [...params];
  if (!entries.length) return [];
  const counts = countNonFinite(entries.map(([, t]) => t));
  try {
    const [c] = await readAll([counts]);
    return entries.flatMap(([name, t], i) => c[i] > 0 ? [{ name, count: c[i], size: t.size }] : []);
  } finally {
    counts.dispose();
  }
}

/** Throws {@link NonFiniteWeightsError} naming the tensors of `params` that hold NaN/±Inf. */
export async function checkWeightsFinite(params: ReadonlyMap<string, Tensor>, source: string): Promise<void> {
  const bad = await nonFiniteTensors(params);
  if (bad.length) throw new NonFiniteWeightsError(source, bad);
}
