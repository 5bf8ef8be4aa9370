/**
 * `TrainingArguments` with Hugging Face's names (camelCase here, kebab-case on the command line) and the
 * course's values as defaults, plus the `deno task train` flags for the model, data and from-scratch
 * config. Parsing rejects unknown flags and bad values with a message and the help text.
 * @module
 */

/** Evaluation/save cadence. */
export type IntervalStrategy = "no" | "steps" | "epoch";

/** Arguments of a training run (HF TrainingArguments subset with the same meaning and defaults). */
export interface TrainingArguments {
  outputDir: string;
  learningRate: number;
  numTrainEpochs: number;
  /** > 0 overrides numTrainEpochs. */
  maxSteps: number;
  perDeviceTrainBatchSize: number;
  perDeviceEvalBatchSize: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  lrSchedulerType: "linear" | "constant" | "constant_with_warmup" | "cosine";
  warmupSteps: number;
  warmupRatio: number;
  maxGradNorm: number;
  gradientAccumulationSteps: number;
  evalStrategy: IntervalStrategy;
  evalSteps: number;
  saveStrategy: IntervalStrategy;
  saveSteps: number;
  loggingSteps: number;
  saveTotalLimit: number | null;
  loadBestModelAtEnd: boolean;
  metricForBestModel: string;
  greaterIsBetter: boolean | null;
  seed: number;
  groupByLength: boolean;
  resumeFromCheckpoint: string | null;
  /** Push the output folder to the Hub (repo created when training starts). */
  pushToHub: boolean;
  /** Repo to push to (default: the output folder's name in the token user's namespace). */
  hubModelId: string | null;
  /** `end`, `every_save` (default), `checkpoint` (also `last-checkpoint/`) or `all_checkpoints`. */
  hubStrategy: "end" | "every_save" | "checkpoint" | "all_checkpoints";
  /** Access token (default: HF_TOKEN, then the token file); saved as `<HUB_TOKEN>`, never itself. */
  hubToken: string | null;
  /** Create the repo private. */
  hubPrivateRepo: boolean;
  /** Push at every save even while the previous push still runs (queued). */
  hubAlwaysPush: boolean;
  /** Branch to push to (default `main`). */
  hubRevision: string | null;
  /**
   * Mixed precision (HF's `--fp16`): fp16 matmul inputs with fp32 accumulation and master weights, and
   * dynamic loss scaling (src/ops/autocast.ts, src/train/grad_scaler.ts); needs `shader-f16`.
   */
  fp16: boolean;
}

/** The course's Trainer values (bert-finetuned-ner) over HF's defaults. */
export const DEFAULT_TRAINING_ARGS: TrainingArguments = {
  outputDir: "bert-finetuned-ner",
  learningRate: 2e-5,
  numTrainEpochs: 3,
  maxSteps: -1,
  perDeviceTrainBatchSize: 8,
  perDeviceEvalBatchSize: 8,
  weightDecay: 0.01,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  lrSchedulerType: "linear",
  warmupSteps: 0,
  warmupRatio: 0,
  maxGradNorm: 1.0,
  gradientAccumulationSteps: 1,
  evalStrategy: "epoch",
  evalSteps: 500,
  saveStrategy: "epoch",
  saveSteps: 500,
  loggingSteps: 500,
  saveTotalLimit: null,
  loadBestModelAtEnd: false,
  metricForBestModel: "f1",
  greaterIsBetter: null,
  seed: 42,
  groupByLength: false,
  resumeFromCheckpoint: null,
  pushToHub: false,
  hubModelId: null,
  hubStrategy: "every_save",
  hubToken: null,
  hubPrivateRepo: false,
  hubAlwaysPush: false,
  hubRevision: null,
  fp16: false,
};

/** The `deno task train` options beyond TrainingArguments. */
export interface TrainCliOptions {
  model: string;
  tokenizer: string | null;
  dataset: string;
  labelColumn: string;
  labelAllTokens: boolean;
  maxLength: number | null;
  maxTrainSamples: number | null;
  maxEvalSamples: number | null;
  fromScratch: boolean;
  /** HF model_type for --from-scratch (bert, distilbert, roberta, xlm-roberta, camembert, electra, …). */
  modelType: string;
  hiddenSize: number | null;
  numHiddenLayers: number | null;
  numAttentionHeads: number | null;
  intermediateSize: number | null;
  maxPositionEmbeddings: number | null;
  /** Config overrides (HF `from_pretrained(..., hidden_dropout_prob=…)`); null keeps the model's value. */
  hiddenDropoutProb: number | null;
  attentionProbsDropoutProb: number | null;
  classifierDropout: number | null;
  revision: string;
  /** Resume even when training arguments that change the model or the data order differ. */
  allowResumeChanges: boolean;
  help: boolean;
}

/** Defaults of the CLI-only options. */
export const DEFAULT_CLI_OPTIONS: TrainCliOptions = {
  model: "bert-base-cased",
  tokenizer: null,
  dataset: "conll2003",
  labelColumn: "ner_tags",
  labelAllTokens: true,
  maxLength: null,
  maxTrainSamples: null,
  maxEvalSamples: null,
  fromScratch: false,
  modelType: "bert",
  hiddenSize: null,
  numHiddenLayers: null,
  numAttentionHeads: null,
  intermediateSize: null,
  maxPositionEmbeddings: null,
  hiddenDropoutProb: null,
  attentionProbsDropoutProb: null,
  classifierDropout: null,
  revision: "main",
  allowResumeChanges: false,
  help: false,
};

type _Kind = "num" | "int" | "str" | "bool" | "nullint" | "nullnum" | "nullstr" | `enum:${string}`;

const _KINDS: Record<string, _Kind> = {
  outputDir: "str",
  learningRate: "num",
  numTrainEpochs: "num",
  maxSteps: "int",
  perDeviceTrainBatchSize: "int",
  perDeviceEvalBatchSize: "int",
  weightDecay: "num",
  adamBeta1: "num",
  adamBeta2: "num",
  adamEpsilon: "num",
  lrSchedulerType: "enum:linear|constant|constant_with_warmup|cosine",
  warmupSteps: "int",
  warmupRatio: "num",
  maxGradNorm: "num",
  gradientAccumulationSteps: "int",
  evalStrategy: "enum:no|steps|epoch",
  evalSteps: "int",
  saveStrategy: "enum:no|steps|epoch",
  saveSteps: "int",
  loggingSteps: "int",
  saveTotalLimit: "nullint",
  loadBestModelAtEnd: "bool",
  metricForBestModel: "str",
  greaterIsBetter: "bool",
  seed: "int",
  groupByLength: "bool",
  resumeFromCheckpoint: "nullstr",
  pushToHub: "bool",
  hubModelId: "nullstr",
  hubStrategy: "enum:end|every_save|checkpoint|all_checkpoints",
  hubToken: "nullstr",
  hubPrivateRepo: "bool",
  hubAlwaysPush: "bool",
  hubRevision: "nullstr",
  fp16: "bool",
  model: "str",
  tokenizer: "nullstr",
  dataset: "str",
  labelColumn: "str",
  labelAllTokens: "bool",
  maxLength: "nullint",
  maxTrainSamples: "nullint",
  maxEvalSamples: "nullint",
  fromScratch: "bool",
  modelType: "str",
  hiddenSize: "nullint",
  numHiddenLayers: "nullint",
  numAttentionHeads: "nullint",
  intermediateSize: "nullint",
  maxPositionEmbeddings: "nullint",
  hiddenDropoutProb: "nullnum",
  attentionProbsDropoutProb: "nullnum",
  classifierDropout: "nullnum",
  revision: "str",
  allowResumeChanges: "bool",
  help: "bool",
};

const _DESCRIPTIONS: Record<string, string> = {
  hiddenDropoutProb: "config override (default: the model's config)",
  attentionProbsDropoutProb: "config override (default: the model's config)",
  classifierDropout: "config override (default: the model's config; null = hidden dropout)",
  model: "Hub id or local folder of a token-classification checkpoint (any supported model_type)",
  tokenizer: "tokenizer folder (default: the model's, else the shipped bert-base-cased)",
  dataset: "conll2003 (shipped), or a path: CoNLL files/folder, HF save_to_disk or cache folder, .jsonl",
  labelColumn: "ner_tags | pos_tags | chunk_tags (the metric follows)",
  labelAllTokens:
    "label every subtoken, B-X continuations as I-X (the course's rule); false: first subtoken only",
  fromScratch: "random initialisation instead of pretrained weights (use with the size flags)",
  modelType:
    "model_type of a --from-scratch model: bert, distilbert, roberta, xlm-roberta, camembert, electra, …",
  resumeFromCheckpoint:
    "a checkpoint folder, 'latest' for the newest in the output dir, or a Hub repo id[@revision] with last-checkpoint/",
  allowResumeChanges:
    "resume even if seed, batch size, accumulation or the model size differ from the checkpoint's",
  hubModelId: "Hub repo to push to (default: the output dir's name, namespace from whoami)",
  hubToken: "Hub token (default: HF_TOKEN, then the token file of deno task login)",
  fp16:
    "mixed precision: fp16 matmul inputs, fp32 accumulation/weights, dynamic loss scaling (needs shader-f16)",
};

/** kebab-case flag for a camelCase field. */
export function flagName(field: string): string {
  return "--" + field.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** The help text listing every flag with its default. */
export function helpText(): string {
  const defaults: Record<string, unknown> = { ...DEFAULT_TRAINING_ARGS, ...DEFAULT_CLI_OPTIONS };
  const lines = [
    "Usage: deno task train [flags]",
    "",
    "Fine-tunes BERT for token classification (the Hugging Face course recipe). Flags mirror",
    "TrainingArguments in kebab case; values as --flag value or --flag=value.",
    "",
  ];
  for (const [field, kind] of Object.entries(_KINDS)) {
    const type = kind.startsWith("enum:") ? kind.slice(5) : kind.replace("null", "");
    const def = JSON.stringify(defaults[field]);
    const desc = _DESCRIPTIONS[field] ? `  ${_DESCRIPTIONS[field]}` : "";
    lines.push(`  ${flagName(field).padEnd(32)} ${type.padEnd(10)} default ${def}${desc}`);
  }
  lines.push(
    `  ${"--profile".padEnd(32)} ${"".padEnd(10)} print a kernel/host time table (src/engine/profiler.ts)`,
  );
  lines.push(`  ${"--profile-trace".padEnd(32)} ${"FILE".padEnd(10)} also write a Chrome trace JSON`);
  return lines.join("\n");
}

/** Thrown for a bad command line; `message` says what, and the CLI prints the help after it. */
export class ArgsError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ArgsError";
  }
}

function _value(field: string, kind: _Kind, raw: string | undefined): unknown {
  const flag = flagName(field);
  if (kind === "bool") {
    if (raw === undefined || raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    throw new ArgsError(`${flag} takes true or false, got '${raw}'`);
  }
  if (raw === undefined) throw new ArgsError(`${flag} needs a value`);
  if (kind.startsWith("null") && (raw === "none" || raw === "null")) return null;
  if (kind === "str" || kind === "nullstr") {
    if (raw === "") throw new ArgsError(`${flag} must not be empty`);
    return raw;
  }
  if (kind.startsWith("enum:")) {
    const options = kind.slice(5).split("|");
    if (!options.includes(raw)) {
      throw new ArgsError(`${flag} must be one of ${options.join(", ")}, got '${raw}'`);
    }
    return raw;
  }
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n)) throw new ArgsError(`${flag} takes a number, got '${raw}'`);
  if ((kind === "int" || kind === "nullint") && !Number.isInteger(n)) {
    throw new ArgsError(`${flag} takes an integer, got '${raw}'`);
  }
  return n;
}

/** Parses `deno task train` arguments. Throws {@link ArgsError} on unknown flags or bad values. */
export function parseTrainArgs(argv: string[]): { args: TrainingArguments; cli: TrainCliOptions } {
  const byFlag = new Map(Object.keys(_KINDS).map((f) => [flagName(f), f]));
  const values: Record<string, unknown> = { ...DEFAULT_TRAINING_ARGS, ...DEFAULT_CLI_OPTIONS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-h") {
      values.help = true;
      continue;
    }
    const eq = a.indexOf("=");
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const field = byFlag.get(flag);
    if (!field) throw new ArgsError(`unknown argument '${a}'`);
    const kind = _KINDS[field];
    let raw: string | undefined = eq > 0 ? a.slice(eq + 1) : undefined;
    if (raw === undefined && kind !== "bool") raw = argv[++i];
    else if (raw === undefined && kind === "bool" && /^(true|false)$/.test(argv[i + 1] ?? "")) {
      raw = argv[++i];
    }
    values[field] = _value(field, kind, raw);
  }
  const v = values as unknown as TrainingArguments & TrainCliOptions;
  _validate(v);
  const args = Object.fromEntries(Object.keys(DEFAULT_TRAINING_ARGS).map((k) => [k, values[k]]));
  const cli = Object.fromEntries(Object.keys(DEFAULT_CLI_OPTIONS).map((k) => [k, values[k]]));
  return { args: args as unknown as TrainingArguments, cli: cli as unknown as TrainCliOptions };
}

function _validate(v: TrainingArguments & TrainCliOptions): void {
  for (const k of ["hiddenDropoutProb", "attentionProbsDropoutProb", "classifierDropout"] as const) {
    if (v[k] !== null && !(v[k]! >= 0 && v[k]! < 1)) throw new ArgsError(`${flagName(k)} must be in [0, 1)`);
  }
  const positive: (keyof (TrainingArguments & TrainCliOptions))[] = [
    "learningRate",
    "perDeviceTrainBatchSize",
    "perDeviceEvalBatchSize",
    "gradientAccumulationSteps",
    "loggingSteps",
    "evalSteps",
    "saveSteps",
  ];
  for (const k of positive) {
    if (!((v[k] as number) > 0)) throw new ArgsError(`${flagName(k)} must be > 0, got ${v[k]}`);
  }
  if (!(v.numTrainEpochs > 0) && !(v.maxSteps > 0)) {
    throw new ArgsError("--num-train-epochs must be > 0 (or give --max-steps)");
  }
  if (v.warmupRatio < 0 || v.warmupRatio > 1) throw new ArgsError("--warmup-ratio must be in [0, 1]");
  if (v.adamBeta1 < 0 || v.adamBeta1 >= 1 || v.adamBeta2 < 0 || v.adamBeta2 >= 1) {
    throw new ArgsError("--adam-beta1 and --adam-beta2 must be in [0, 1)");
  }
  for (const k of ["warmupSteps", "weightDecay", "maxGradNorm", "adamEpsilon"] as const) {
    if (v[k] < 0) throw new ArgsError(`${flagName(k)} must be >= 0, got ${v[k]}`);
  }
  if (v.saveTotalLimit !== null && v.saveTotalLimit < 1) {
    throw new ArgsError("--save-total-limit must be >= 1");
  }
  if (v.loadBestModelAtEnd && (v.evalStrategy === "no" || v.evalStrategy !== v.saveStrategy)) {
    throw new ArgsError("--load-best-model-at-end needs --eval-strategy equal to --save-strategy (not 'no')");
  }
  for (
    const k of ["maxLength", "maxTrainSamples", "maxEvalSamples", "hiddenSize", "numHiddenLayers"] as const
  ) {
    if (v[k] !== null && !((v[k] as number) > 0)) throw new ArgsError(`${flagName(k)} must be > 0`);
  }
  if (!["ner_tags", "pos_tags", "chunk_tags"].includes(v.labelColumn) && v.dataset === "conll2003") {
    throw new ArgsError(`--label-column must be ner_tags, pos_tags or chunk_tags for conll2003`);
  }
}
