/**
 * Hugging Face checkpoints in and out: `fromPretrained` (local folder or Hub id through the standard cache;
 * model.safetensors or a sharded index, else pytorch_model.bin (zip or legacy torch.save, sharded too);
 * F32/F16/BF16; keys with or without `bert.`; old `gamma`/`beta` names; pooler and MLM-head weights
 * ignored; every shape checked; HF's unused/newly-initialised report)
 * and `savePretrained` (config.json, model.safetensors with HF key names and `{"format":"pt"}`, tokenizer
 * files), written atomically.
 * @module
 */
import { resolveModelFiles } from "../io/hub.ts";
import { type FileStore, hasDeno, isHttpUrl, readFileBytes, readFileText } from "../io/storage.ts";
import { defaultStore, isDenoStore } from "../io/deno_store.ts";
import { writeFilesCommitted } from "../io/store_files.ts";
import { serializeSafetensors } from "../io/safetensors.ts";
import { pipelineInfo } from "../data/tokenizer_json.ts";
import {
  readCheckpointTensors,
  resolveWeightFiles,
  SAFETENSORS_WEIGHTS,
  weightToFloat32,
} from "../io/weights.ts";
import { readAll } from "../engine/tensor.ts";
import { parseJsonText } from "../data/io.ts";
import {
  checkCheckpointWeights,
  checkNotDuplicated,
  checkParameterSizes,
  checkWeightsFinite,
} from "./weight_checks.ts";
import { normalizeBertKey } from "./bert.ts";
import { checkpointParameters } from "./chunked.ts";
import type { ModelFamily, TokenClassifier, TokenClassifierConfig } from "./classifier.ts";
import { labelMaps } from "./config.ts";
import {
  createModel,
  FAMILIES,
  familyFor,
  familyOf,
  maxInputLength,
  modelConfigJson,
  parseModelConfig,
} from "./registry.ts";

/** Options for {@link fromPretrained}. */
export interface FromPretrainedOptions {
  /** Label names for a new head (replaces the checkpoint's label maps, like passing id2label to HF). */
  labels?: readonly string[];
  /** Hub revision (branch, tag or commit). */
  revision?: string;
  /** Seed for newly initialised weights and dropout. */
  seed?: number;
  /** Called with download progress when files come from the Hub. */
  onProgress?: (p: { file: string; bytes: number; total: number | null }) => void;
  /** Environment lookup (HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE). */
  env?: (k: string) => string | undefined;
  /**
   * The store a folder path is read from, e.g. the `MemoryStore`/`OpfsStore` a tab saved a model into
   * with `savePretrained(…, { store })`; default Deno's file system (without Deno: the default store).
   */
  store?: FileStore;
}

/** What loading did with the checkpoint's weights, as HF reports it. */
export interface LoadReport {
  /** Checkpoint keys the model does not use (pooler, MLM head, …). */
  unused: string[];
  /** Model parameters not in the checkpoint, freshly initialised (normally the classifier). */
  newlyInitialized: string[];
  /** The local folder the files came from. */
  dir: string;
  /** HF's class name of the loaded model (e.g. `RobertaForTokenClassification`), for messages. */
  architecture?: string;
}

/** BERT's checkpoint key → model key (adds `bert.`, renames LayerNorm gamma/beta); other families: their registry entry's `normalizeKey`. */
export function normalizeKey(key: string): string {
  return normalizeBertKey(key);
}

/**
 * Reads every tensor of the weight files as f32, keyed by model key (`normalize` maps checkpoint keys:
 * the family's prefixes and legacy aliases). The one place weight files are read.
 */
async function _readWeights(
  paths: string[],
  normalize: (key: string) => string,
  store?: FileStore,
): Promise<Map<string, { data: Float32Array; shape: number[]; key: string }>> {
  const out = new Map<string, { data: Float32Array; shape: number[]; key: string }>();
  const seen = new Map<string, { key: string; file: string }>();
  for (const path of paths) {
    for (const [key, t] of await readCheckpointTensors(path, store)) {
      const name = normalize(key);
      checkNotDuplicated(seen, name, key, path); // the same tensor in two shards is refused
      seen.set(name, { key, file: path });
      out.set(name, { data: weightToFloat32(t, `${path}: ${key}`), shape: t.shape, key });
    }
  }
  return out;
}

/**
 * Loads a token classifier (the family its config.json's `model_type` names) from a folder or Hub id.
 * Weights the checkpoint lacks are initialised as HF does only for the classifier head; any other missing
 * weight is an error, as is any shape mismatch.
 */
export async function fromPretrained(
  dirOrHubId: string,
  opts: FromPretrainedOptions = {},
): Promise<{ model: TokenClassifier; report: LoadReport }> {
  const resolved = await resolveModelFiles(dirOrHubId, ["config.json"], {
    revision: opts.revision,
    optional: SAFETENSORS_WEIGHTS,
    onProgress: opts.onProgress,
    env: opts.env,
    store: opts.store,
  });
  const configPath = resolved.files["config.json"];
  let config: TokenClassifierConfig = parseModelConfig(
    parseJsonText(await readFileText(configPath, opts.store), configPath),
    configPath,
  );
  if (opts.labels) config = { ...config, ...labelMaps(opts.labels) };
  const family = familyFor(config.model_type, configPath);
  // Sizes against the device limits before reading or allocating anything (names the config field).
  checkParameterSizes(
    family.parameterShapes(config),
    configPath,
    config as unknown as Record<string, unknown>,
  );
  const weightPaths = await resolveWeightFiles(dirOrHubId, resolved, {
    revision: opts.revision,
    env: opts.env,
    onProgress: opts.onProgress,
    store: opts.store,
  });
  const ckpt = await _readWeights(weightPaths, (k) => family.normalizeKey(k), opts.store);
  checkCheckpointWeights(family.parameterShapes(config), ckpt, resolved.dir, (n) => family.isHead(n));
  const weights = new Map<string, Float32Array>();
  const newlyInitialized: string[] = [];
  const missing: string[] = [];
  const seed = opts.seed ?? 42;
  for (const [name, shape] of family.parameterShapes(config)) {
    const w = ckpt.get(name);
    if (w) {
      if (w.shape.join() !== shape.join()) {
        const hint = family.isHead(name)
          ? ` (the checkpoint's head has another label count; pass labels to train a new head)`
          : "";
        throw new RangeError(
          `${resolved.dir}: weight '${w.key}' has shape [${w.shape}], the model needs [${shape}]${hint}`,
        );
      }
      weights.set(name, w.data);
      ckpt.delete(name);
    } else if (family.isHead(name) || opts.labels) {
      if (!family.isHead(name)) missing.push(name);
      weights.set(name, family.initialWeights(config, seed, name, shape));
      newlyInitialized.push(name);
    } else missing.push(name);
  }
  if (missing.length) {
    throw new Error(
      `${resolved.dir}: the checkpoint lacks ${missing.length} model weights: ${
        missing.slice(0, 8).join(", ")
      }${missing.length > 8 ? ", …" : ""}`,
    );
  }
  // position_ids is a buffer, not a weight: HF ignores it on load.
  const unused = [...ckpt.entries()]
    .filter(([name, w]) => !w.key.endsWith("embeddings.position_ids") && !family.ignoredOnLoad?.(name))
    .map(([, w]) => w.key);
  const model = createModel(config, weights, seed);
  try {
    await checkWeightsFinite(model.params, resolved.dir); // NaN/±Inf weights: one GPU reduction
  } catch (e) {
    model.dispose();
    throw e;
  }
  return {
    model,
    report: {
      unused,
      newlyInitialized,
      dir: resolved.dir,
      architecture: family.architecture(config.model_type),
    },
  };
}

/** HF's warnings for a {@link LoadReport}, as lines of text (empty when everything matched). */
export function describeLoadReport(report: LoadReport, modelName: string): string[] {
  const lines: string[] = [];
  const arch = report.architecture ?? "BertForTokenClassification";
  if (report.unused.length) {
    lines.push(
      `Some weights of the model checkpoint at ${modelName} were not used when initializing ` +
        `${arch}: [${report.unused.join(", ")}]`,
    );
  }
  if (report.newlyInitialized.length) {
    lines.push(
      `Some weights of ${arch} were not initialized from the model checkpoint at ` +
        `${modelName} and are newly initialized: [${report.newlyInitialized.join(", ")}]. You should ` +
        `probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.`,
    );
  }
  return lines;
}

/**
 * The safetensors bytes of a model's parameters (F32, HF key names, `{"format":"pt"}` metadata); a
 * row-chunked parameter is one tensor under its key, its chunks written one after the other.
 */
export async function modelSafetensors(model: TokenClassifier): Promise<Uint8Array> {
  const grouped = checkpointParameters(model.params);
  const data = await readAll(grouped.flatMap((p) => p.parts));
  let i = 0;
  return serializeSafetensors(
    grouped.map((p) => ({
      name: p.key,
      dtype: "F32",
      shape: p.shape,
      data: p.parts.map(() => data[i++] as Float32Array),
    })),
    { format: "pt" },
  );
}

/** Tokenizer files copied by {@link savePretrained} when present in the tokenizer folder. */
export const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "vocab.txt",
  "special_tokens_map.json",
];

/** Options for {@link savePretrained}. */
export interface SavePretrainedOptions {
  /** Folder holding the tokenizer files to copy alongside the model. */
  tokenizerDir?: string | URL;
  /** More files to write into the folder (name → contents), e.g. a model card. */
  extraFiles?: Record<string, Uint8Array | string>;
  /** Writes one file (HF `save_function`, e.g. `accelerator.save`); default an atomic write. */
  saveFunction?: (data: Uint8Array | string, path: string) => Promise<void>;
  /**
   * Where the folder is written: default Deno's file system where Deno exists, else the default store
   * (a `MemoryStore` unless `setFileStore` set another); e.g. an `OpfsStore` in a tab.
   */
  store?: FileStore;
}

/** The files of an HF model folder (config.json, model.safetensors, tokenizer files, extras) by name. */
export async function pretrainedFiles(
  model: TokenClassifier,
  opts: SavePretrainedOptions = {},
): Promise<Record<string, Uint8Array | string>> {
  const files: Record<string, Uint8Array | string> = {
    "config.json": JSON.stringify(modelConfigJson(model.config), null, 2) + "\n",
    "model.safetensors": await modelSafetensors(model),
  };
  if (opts.tokenizerDir) {
    const base = opts.tokenizerDir.toString().replace(/\/?$/, "/");
    for (const name of TOKENIZER_FILES) {
      const where = base.includes("://") ? new URL(name, base) : `${base}${name}`;
      const got = await _readOptional(where, opts.store);
      if (got) files[name] = got;
    }
  }
  if (files["tokenizer.json"]) {
    Object.assign(files, _tokenizerConfigs(files, model));
  }
  return { ...files, ...opts.extraFiles };
}

/**
 * A tokenizer file if it exists: an http(s) URL is fetched (a 404 is absent); a path or `file:` URL is read
 * from Deno's file system where Deno exists (as before the seam), else from `store` (or the default store).
 */
async function _readOptional(where: string | URL, store?: FileStore): Promise<Uint8Array | undefined> {
  if (isHttpUrl(where)) {
    const res = await fetch(where);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`${where}: HTTP ${res.status} ${res.statusText}`);
    }
    return new Uint8Array(await res.arrayBuffer());
  }
  if (hasDeno()) {
    try {
      return await Deno.readFile(where);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }
  try {
    return await readFileBytes(where, store && !isDenoStore(store) ? store : undefined);
  } catch (e) {
    if ((e as Error).name === "NotFound") return undefined;
    throw e;
  }
}

/**
 * The tokenizer_config.json and special_tokens_map.json that `save_pretrained` writes for the model
 * family's fast tokenizer: the source config's fields kept, plus the tokenizer class (`BertTokenizer`,
 * `RobertaTokenizer`, … — see {@link tokenizerFamily}), special tokens and `model_max_length` (the model's
 * usable length when the source has none), so `AutoTokenizer` and the pipeline truncate as with the original.
 */
function _tokenizerConfigs(
  files: Record<string, Uint8Array | string>,
  model: TokenClassifier,
): Record<string, string> {
  const { family, type, special } = tokenizerFamily(files["tokenizer.json"], model);
  const raw = files["tokenizer_config.json"];
  const text = typeof raw === "string" ? raw : raw ? new TextDecoder().decode(raw) : "{}";
  let source: Record<string, unknown> = {};
  try {
    source = JSON.parse(text);
  } catch { /* an unreadable source config is replaced */ }
  const config = {
    tokenizer_class: family.tokenizerClass(type),
    ...family.tokenizerConfig?.(type),
    ...special,
    model_max_length: maxInputLength(model.config),
    clean_up_tokenization_spaces: false,
    // training loads byte-level BPE with add_prefix_space=True (as run_ner.py), and so saves it
    ...(_isByteLevel(files["tokenizer.json"]) ? { add_prefix_space: true } : {}),
    ...source,
  };
  const out: Record<string, string> = { "tokenizer_config.json": JSON.stringify(config, null, 2) + "\n" };
  if (!files["special_tokens_map.json"]) {
    out["special_tokens_map.json"] = JSON.stringify(special, null, 2) + "\n";
  }
  return out;
}

/** Whether a tokenizer.json has a ByteLevel pre-tokenizer (unreadable: false). */
function _isByteLevel(tokenizerJson: Uint8Array | string | undefined): boolean {
  try {
    const text = typeof tokenizerJson === "string" ? tokenizerJson : new TextDecoder().decode(tokenizerJson);
    return pipelineInfo(JSON.parse(text)).byteLevel;
  } catch {
    return false;
  }
}

/**
 * Whose tokenizer class and special tokens describe a tokenizer.json saved with `model`: the model's
 * family when its tokenizer has the same kind (`model.type` WordPiece / BPE / Unigram), otherwise the
 * first registered family whose tokenizer has that kind (a BERT vocabulary under a from-scratch RoBERTa
 * stays a `BertTokenizer`, as `tokenizer.save_pretrained` would write it). Special tokens the
 * tokenizer's vocabulary lacks are left out.
 */
export function tokenizerFamily(
  tokenizerJson: Uint8Array | string | undefined,
  model: TokenClassifier,
): { family: ModelFamily; type: string; special: Record<string, string> } {
  let json: Record<string, unknown> = {};
  try {
    const text = typeof tokenizerJson === "string" ? tokenizerJson : new TextDecoder().decode(tokenizerJson);
    json = JSON.parse(text);
  } catch { /* no readable tokenizer.json: the model's family */ }
  const tm = (json.model ?? {}) as { type?: string; vocab?: unknown };
  const kindOf = (f: ModelFamily, t: string) => f.tokenizerKind?.(t) ?? "WordPiece";
  let family = familyOf(model), type = model.config.model_type;
  if (tm.type && kindOf(family, type) !== tm.type) {
    const other = FAMILIES.flatMap((f) => f.modelTypes.map((t) => [f, t] as const)).find(([f, t]) =>
      kindOf(f, t) === tm.type
    );
    if (other) [family, type] = other;
  }
  const known = new Set<string>();
  if (Array.isArray(tm.vocab)) { for (const e of tm.vocab) known.add(String(Array.isArray(e) ? e[0] : e)); }
  else if (tm.vocab && typeof tm.vocab === "object") { for (const k of Object.keys(tm.vocab)) known.add(k); }
  for (const t of Array.isArray(json.added_tokens) ? json.added_tokens : []) known.add(String(t?.content));
  const special = Object.fromEntries(
    Object.entries(family.specialTokens(type)).filter(([, tok]) => !tm.type || known.has(tok)),
  );
  return { family, type, special };
}

/**
 * Writes an HF folder — config.json, model.safetensors and the tokenizer files — so that
 * `AutoModelForTokenClassification.from_pretrained(dir)` loads it. The files are written all or nothing
 * (staged and fsynced in a temporary folder, then renamed in; see `io/staged_write.ts`); other files in
 * `dir` (e.g. checkpoint folders) are left alone. With `opts.store` (a `MemoryStore`, an `OpfsStore`) the
 * folder goes into that store, staged and committed (`io/store_files.ts`), and
 * `fromPretrained(dir, { store })` loads it back.
 */
export async function savePretrained(
  model: TokenClassifier,
  dir: string,
  opts: SavePretrainedOptions = {},
): Promise<void> {
  const store = opts.store ?? defaultStore();
  if (isDenoStore(store)) await Deno.mkdir(dir, { recursive: true });
  const files = await pretrainedFiles(model, opts);
  // All or nothing: staged in a temporary folder, then renamed in (a full disk leaves the old files);
  // other stores: staged and committed (io/store_files.ts).
  if (!opts.saveFunction) return await writeFilesCommitted(store, dir, files);
  for (const [name, data] of Object.entries(files)) await opts.saveFunction(data, `${dir}/${name}`);
}
