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
