/**
 * Which weight files a checkpoint has and how to read them, in transformers' order of preference:
 * `model.safetensors`, `model.safetensors.index.json` (sharded), then `pytorch_model.bin` and
 * `pytorch_model.bin.index.json`. The `.bin` names are only asked for (on the Hub: downloaded) when no
 * safetensors weights exist, so a repo with both never costs the pickle download.
 * @module
 */
import { type ResolvedFiles, resolveModelFiles, type ResolveOptions } from "./hub.ts";
import { loadShardedIndex, readSafetensors, type SafeTensor, toFloat32 } from "./safetensors.ts";
import { readTorchCheckpoint } from "./torch_checkpoint.ts";
import type { FileStore } from "./storage.ts";

/** The safetensors weight files, asked for together with config.json. */
export const SAFETENSORS_WEIGHTS = ["model.safetensors", "model.safetensors.index.json"];
/** The PyTorch pickle weight files, asked for only when there are no safetensors. */
export const PYTORCH_WEIGHTS = ["pytorch_model.bin", "pytorch_model.bin.index.json"];

/**
 * Paths of the weight files of `dirOrHubId`. `first` is a resolution that asked for
 * {@link SAFETENSORS_WEIGHTS} as optional files; the pickle files and any shards are resolved here.
 */
export async function resolveWeightFiles(
  dirOrHubId: string,
  first: ResolvedFiles,
  opts: Omit<ResolveOptions, "optional"> = {},
): Promise<string[]> {
  let files = first.files;
  if (!files["model.safetensors"] && !files["model.safetensors.index.json"]) {
    files = (await resolveModelFiles(dirOrHubId, [], { ...opts, optional: PYTORCH_WEIGHTS })).files;
  }
  const single = files["model.safetensors"] ?? files["pytorch_model.bin"];
  if (single) return [single];
  const indexPath = files["model.safetensors.index.json"] ?? files["pytorch_model.bin.index.json"];
  if (!indexPath) {
    throw new Error(
      `${first.dir}: no model.safetensors, model.safetensors.index.json, pytorch_model.bin or ` +
        `pytorch_model.bin.index.json`,
    );
  }
  const index = await loadShardedIndex(indexPath, { checkFiles: false, store: opts.store });
  const names = index.shards.map((p) => p.slice(index.dir.replace(/\/?$/, "/").length));
  const shards = await resolveModelFiles(dirOrHubId, names, opts);
  return names.map((n) => shards.files[n]);
}

/**
 * Every tensor of one weight file (`.safetensors`, else a torch pickle checkpoint), by checkpoint key;
 * read from `store` when one is given (see `readFileBytes`).
 */
export async function readCheckpointTensors(
  path: string,
  store?: FileStore,
): Promise<Map<string, SafeTensor>> {
  if (path.endsWith(".safetensors")) return (await readSafetensors(path, store)).tensors;
  return (await readTorchCheckpoint(path, store)).tensors;
}

/**
 * A tensor's values as float32: floating types through {@link toFloat32}; integer buffers (I64/I32, e.g.
 * a saved `position_ids`) converted by value so they can be reported as unused instead of failing.
 */
export function weightToFloat32(t: SafeTensor, name: string): Float32Array {
  if (t.dtype === "I64" || t.dtype === "I32") {
    const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const wide = t.dtype === "I64";
    const out = new Float32Array(t.data.byteLength / (wide ? 8 : 4));
    for (let i = 0; i < out.length; i++) {
      out[i] = wide ? Number(dv.getBigInt64(8 * i, true)) : dv.getInt32(4 * i, true);
    }
    return out;
  }
  return toFloat32(t, name);
}
