/**
 * File input/output: safetensors reading and writing, crash-safe writes, and the Hugging Face Hub cache.
 * @module
 */
export {
  DTYPE_SIZE,
  loadShardedIndex,
  parseSafetensors,
  readSafetensors,
  type SafeDType,
  type SafeTensor,
  SafetensorsError,
  type SafetensorsFile,
  serializeSafetensors,
  type ShardedIndex,
  type TensorToWrite,
  toFloat32,
  toInt32,
} from "./safetensors.ts";
export { syncDir, writeDirAtomic, writeFileAtomic } from "./atomic.ts";
export {
  type DownloadProgress,
  type EnvGetter,
  hubCacheDir,
  HubError,
  isValidModelId,
  type ResolvedFiles,
  resolveModelFiles,
  type ResolveOptions,
} from "./hub.ts";
