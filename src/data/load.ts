/**
 * One entry point that picks the right loader for a dataset name, file or folder (used by `deno task data`).
 * @module
 */
import { loadArrowFile, loadDatasetsCache, loadFromDisk } from "./arrow.ts";
import { type ConllOptions, loadConll } from "./conll.ts";
import { CONLL2003_FILES, loadConll2003 } from "./conll2003.ts";
import type { DatasetDict } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { displayLocation, exists, isDirectory, isLocal, joinUrl, type Location, toUrl } from "./io.ts";
import { type JsonlOptions, loadJsonl } from "./jsonl.ts";

/** Options for {@linkcode loadDataset}. */
export interface LoadOptions {
  /** Split name for single-file sources (JSON Lines, CoNLL file, `.arrow` file); default `train`. */
  readonly split?: string;
  /** Options for generic CoNLL files. */
  readonly conll?: ConllOptions;
  /** Options for JSON Lines files. */
  readonly jsonl?: JsonlOptions;
  /**
   * For a `Blob`/bytes source: the file name whose extension picks the format (`.jsonl`, `.json`,
   * `.arrow`, else CoNLL); a `File`'s own name is used when this is absent.
   */
  readonly fileName?: string;
}

/**
 * Loads a dataset from:
 * - `"conll2003"`: the shipped CoNLL-2003 files (HF `conll2003`);
 * - a `save_to_disk` folder (`dataset_dict.json` or `state.json`), or a `datasets` cache folder
 *   (`dataset_info.json` + `<name>-<split>.arrow`);
 * - a folder with CoNLL-2003's `train.txt`, `valid.txt`, `test.txt` (read as CoNLL-2003);
 * - a `.jsonl`/`.json` file (JSON Lines), a `.arrow` file, or any other file as generic CoNLL
 *   (token in column 0, `ner_tags` in the last column unless `options.conll` says otherwise);
 * - any of these files as a URL (fetched), or in memory as a `File`/`Blob`/bytes (format from
 *   `options.fileName` or the `File`'s name), as a browser page has them.
 */
export async function loadDataset(
  spec: Location | Blob | Uint8Array = "conll2003",
  options: LoadOptions = {},
): Promise<DatasetDict> {
  if (spec === "conll2003") return await loadConll2003();
  if (spec instanceof Blob || spec instanceof Uint8Array) {
    // In-memory data (a browser's <input type=file> File, fetched bytes): read through a blob: URL.
    const blob = spec instanceof Blob ? spec : new Blob([spec as BlobPart]);
    const name = options.fileName ?? (spec as File).name ?? "";
    const url = URL.createObjectURL(blob);
    try {
      return await _loadFile(new URL(url), name, options);
    } finally {
      URL.revokeObjectURL(url);
    }
  }
  const split = options.split ?? "train";
  const url = toUrl(spec);
  const path = url.pathname;
  if (/\.jsonl?$/i.test(path)) return await loadJsonl({ [split]: url }, options.jsonl);
  if (/\.arrow$/i.test(path)) return { [split]: await loadArrowFile(url, split) };
  if (await isDirectory(url) || !isLocal(url) && path.endsWith("/")) {
    if (await exists(joinUrl(url, "dataset_dict.json")) || await exists(joinUrl(url, "state.json"))) {
      return await loadFromDisk(url);
    }
    if (await exists(joinUrl(url, "dataset_info.json"))) return await loadDatasetsCache(url);
    const conll = await Promise.all(Object.values(CONLL2003_FILES).map((f) => exists(joinUrl(url, f))));
    if (conll.every(Boolean)) return await loadConll2003(url);
    throw new DataError(
      { file: displayLocation(url) },
      "not a dataset folder: expected dataset_dict.json or state.json (save_to_disk), dataset_info.json " +
        "(datasets cache) or train.txt/valid.txt/test.txt (CoNLL-2003)",
    );
  }
  return await loadConll({ [split]: url }, options.conll);
}

async function _loadFile(url: URL, name: string, options: LoadOptions): Promise<DatasetDict> {
  const split = options.split ?? "train";
  if (/\.jsonl?$/i.test(name)) return await loadJsonl({ [split]: url }, options.jsonl);
  if (/\.arrow$/i.test(name)) return { [split]: await loadArrowFile(url, split) };
  return await loadConll({ [split]: url }, options.conll);
}
