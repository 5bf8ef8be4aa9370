/**
 * The model card (`README.md`) the Trainer writes next to the final model, in the layout of the cards HF's
 * Trainer generates: YAML metadata, the evaluation results, the hyperparameters and the per-epoch table.
 * @module
 */
import { isValidModelId } from "../io/hub.ts";
import type { TrainingArguments } from "./args.ts";
import type { LogEntry } from "./checkpoint.ts";

/** What the card describes. */
export interface ModelCardInput {
  modelName: string;
  /** Hub id or local path of the starting checkpoint; null when trained from scratch. */
  baseModel: string | null;
  datasetName: string;
  args: TrainingArguments;
  logHistory: readonly LogEntry[];
  finalEval: Record<string, number> | null;
  /** The Hub repo the model is pushed to (named in the card), if any. */
  hubUrl?: string | null;
  /** SPDX id for `license:` (default `apache-2.0`, bert-base-cased's). */
  license?: string;
}

/** A YAML scalar: plain when safe, else a double-quoted (JSON) string, which YAML reads the same. */
function _y(v: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(v) && !/^(true|false|null|yes|no|on|off|~)$/i.test(v) &&
      !/^[0-9.eE+-]+$/.test(v)
    ? v
    : JSON.stringify(v);
}

function _fmt(v: unknown): string {
  return typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v ?? "");
}

/** Builds the card's Markdown. */
export function modelCard(c: ModelCardInput): string {
  const a = c.args;
  const ev = c.finalEval ?? {};
  const hubBase = c.baseModel !== null && isValidModelId(c.baseModel);
  const origin = c.baseModel === null
    ? "This model was trained from scratch"
    : hubBase
    ? `This model is a fine-tuned version of [${c.baseModel}](https://huggingface.co/${c.baseModel})`
    : `This model is a fine-tuned version of the checkpoint at \`${c.baseModel}\``;
  const metricNames = ["precision", "recall", "f1", "accuracy"].filter((m) =>
    Number.isFinite(ev[`eval_${m}`])
  );
  const hubDataset = isValidModelId(c.datasetName);
  const lines = [
    "---",
    "library_name: transformers",
    ...(hubBase ? [`base_model: ${_y(c.baseModel!)}`] : []),
    `license: ${_y(c.license ?? "apache-2.0")}`,
    "pipeline_tag: token-classification",
    "tags:",
    "- generated_from_trainer",
    "- token-classification",
    "- webgpu-ner",
    ...(hubDataset ? ["datasets:", `- ${_y(c.datasetName)}`] : []),
    ...(metricNames.length ? ["metrics:", ...metricNames.map((m) => `- ${m}`)] : []),
    "model-index:",
    `- name: ${_y(c.modelName)}`,
    ...(metricNames.length
      ? [
        "  results:",
        "  - task:",
        "      name: Token Classification",
        "      type: token-classification",
        "    dataset:",
        `      name: ${_y(c.datasetName)}`,
        `      type: ${_y(c.datasetName)}`,
        "      split: validation",
        "    metrics:",
        ...metricNames.flatMap((m) => [
          `    - name: ${m[0].toUpperCase()}${m.slice(1)}`,
          `      type: ${m}`,
          `      value: ${ev[`eval_${m}`]}`,
        ]),
      ]
      : ["  results: []"]),
    "---",
    "",
    `# ${c.modelName}`,
    "",
    `${origin} on the ${c.datasetName} dataset, trained with webgpu-ner (BERT on a WGSL/WebGPU engine).`,
    ...(c.hubUrl ? [`It is on the Hugging Face Hub at ${c.hubUrl}.`] : []),
    "It achieves the following results on the evaluation set (entity-level seqeval at word level; the",
    "`_subword` figures score every labelled subtoken as the Hugging Face course does):",
    ...Object.entries(ev).filter(([k]) => k.startsWith("eval_") && !/runtime|per_second/.test(k))
      .map(([k, v]) => `- ${k.slice(5).replace(/_/g, " ")}: ${_fmt(v)}`),
    "",
    "## Training procedure",
    "",
    "### Training hyperparameters",
    "",
    "The following hyperparameters were used during training:",
    `- learning_rate: ${a.learningRate}`,
    `- train_batch_size: ${a.perDeviceTrainBatchSize}`,
    `- eval_batch_size: ${a.perDeviceEvalBatchSize}`,
    `- seed: ${a.seed}`,
    `- gradient_accumulation_steps: ${a.gradientAccumulationSteps}`,
    `- total_train_batch_size: ${a.perDeviceTrainBatchSize * a.gradientAccumulationSteps}`,
    `- optimizer: AdamW with betas=(${a.adamBeta1},${a.adamBeta2}) and epsilon=${a.adamEpsilon}, weight_decay=${a.weightDecay}`,
    `- lr_scheduler_type: ${a.lrSchedulerType}`,
    ...(a.warmupSteps > 0 ? [`- lr_scheduler_warmup_steps: ${a.warmupSteps}`] : []),
    ...(a.warmupRatio > 0 ? [`- lr_scheduler_warmup_ratio: ${a.warmupRatio}`] : []),
    a.maxSteps > 0 ? `- training_steps: ${a.maxSteps}` : `- num_epochs: ${a.numTrainEpochs}`,
    ...(a.fp16 ? ["- mixed_precision_training: Native AMP"] : []), // HF's line for --fp16
    `- max_grad_norm: ${a.maxGradNorm}`,
    "",
    "### Training results",
    "",
    ..._resultsTable(c.logHistory, metricNames),
    "",
    "![training curve](training_curve.svg)",
    "",
  ];
  return lines.join("\n");
}

function _resultsTable(history: readonly LogEntry[], metricNames: string[]): string[] {
  const evals = history.filter((e) => typeof e.eval_loss === "number");
  const header = [
    "Training Loss",
    "Epoch",
    "Step",
    "Validation Loss",
    ...metricNames.map((m) => m[0].toUpperCase() + m.slice(1)),
  ];
  const rows = evals.map((e) => {
    const train = [...history].reverse().find((h) =>
      typeof h.loss === "number" && Number(h.step) <= Number(e.step)
    );
    return [
      train ? _fmt(train.loss) : "No log",
      _fmt(e.epoch),
      _fmt(e.step),
      _fmt(e.eval_loss),
      ...metricNames.map((m) => _fmt(e[`eval_${m}`])),
    ];
  });
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => ":---:").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}
