/**
 * File input/output: safetensors reading and writing, PyTorch `pytorch_model.bin` reading (zip and legacy
 * torch.save formats through a restricted pickle reader), crash-safe writes, and the Hugging Face Hub cache.
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
// The storage seam: Deno's file system, fetch for http(s) URLs, a pluggable store in a browser
export {
  type FileStore,
  fileStore,
  hasDeno,
  isHttpUrl,
  MemoryStore,
  OpfsStore,
  readFileBytes,
  readFileText,
  resolveUrlFolder,
  setFileStore,
  writeFileBytes,
} from "./storage.ts";
export { defaultStore, DenoFileStore } from "./deno_store.ts";
export {
  appendText,
  listFiles,
  recoverCommits,
  resolveStoreFolder,
  writeDirCommitted,
  writeFilesCommitted,
} from "./store_files.ts";
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
// Hub uploads: tokens, the write client, commits/LFS (see hub_upload.ts for the protocol)
export {
  deleteToken,
  findToken,
  type FoundToken,
  getToken,
  hfHomeDir,
  saveToken,
  tokenPath,
  type TokenSource,
} from "./hub_token.ts";
export { HubClient, type HubClientOptions, type HubRequest, type RepoUrl, type WhoAmI } from "./hub_api.ts";
export {
  type CommitInfo,
  type CommitOperation,
  type CommitOperationAdd,
  type CommitOperationDelete,
  type CommitOptions,
  createCommit,
  type FolderFilter,
  listFolder,
  uploadFolder,
  type UploadFolderOptions,
} from "./hub_upload.ts";
export { crc32, isZip, openZip, type ZipArchive, type ZipEntry, ZipError } from "./zip.ts";
export {
  PyDict,
  PyGlobal,
  PyTuple,
  type PyValue,
  STORAGE_TYPES,
  type StorageRef,
  type TensorRef,
  TORCH_DTYPE_SIZE,
  type TorchDType,
  TorchPickleError,
  unpickle,
  type Unpickled,
} from "./torch_pickle.ts";
export {
  materialize,
  parseTorchCheckpoint,
  readTorchCheckpoint,
  type TorchCheckpoint,
  type TorchLayout,
} from "./torch_checkpoint.ts";
export {
  PYTORCH_WEIGHTS,
  readCheckpointTensors,
  resolveWeightFiles,
  SAFETENSORS_WEIGHTS,
  weightToFloat32,
} from "./weights.ts";
