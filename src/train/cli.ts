/**
 * `deno task train`: the course's fine-tuning run from one command. Loads the dataset (CoNLL-2003 shipped
 * by default), the tokenizer and the model (a Hub id or folder, or `--from-scratch`), tokenizes and
 * aligns, trains with the Trainer, and ends with one JSON line of results. Stops before any work, with
 * the two ways on, when pretrained weights cannot be had.
 * @module
 */
import { profileFromArgs } from "../engine/profiler_cli.ts";
import { loadDataset } from "../data/load.ts";
import { BERT_BASE_CASED_DIR, loadTokenizer, type WordTokenizer } from "../data/tokenizer.ts";
import { tokenizeAndAlign } from "../data/prepare.ts";
import type { TokenDataset } from "../data/dataset.ts";
import { initGpu } from "../engine/gpu.ts";
import { requireShaderF16 } from "../ops/autocast.ts";
import { ConfigError, type TokenClassifier } from "../model/classifier.ts";
import { makeModelConfig, maxInputLength, randomModel } from "../model/registry.ts";
import { describeLoadReport, fromPretrained } from "../model/pretrained.ts";
import { ArgsError, helpText, parseTrainArgs, type TrainCliOptions, type TrainingArguments } from "./args.ts";
import { downloadProgress } from "./progress.ts";
import { type EvalSet, Trainer } from "./trainer.ts";
import { checkSplitHasRows, checkSplitUsable, checkTokenizerFits, preflightTrain } from "./preflight.ts";
import { SIGINT_EXIT_CODE } from "./interrupt.ts";
import { initProcessGroup, type ProcessGroup } from "../dist/group.ts";

/** Thrown when pretrained weights are not available; the message shows the two ways on. */
export class WeightsUnavailableError extends Error {
  /** Creates the error for `model` with the underlying reason. */
  constructor(model: string, reason: string) {
    super(
      `cannot load pretrained weights for '${model}': ${reason}\n` +
        `Pretrained weights are needed unless you train from scratch. Two ways on:\n` +
        `  deno task train --model <local dir with config.json + model.safetensors>\n` +
        `  deno task train --from-scratch [--hidden-size 256 --num-hidden-layers 4 ...]`,
    );
    this.name = "WeightsUnavailableError";
  }
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Label names of a split's column. */
function _labelNames(ds: TokenDataset, column: string): string[] {
  const f = ds.features[column];
  if (!f) {
    throw new ArgsError(
      `--label-column ${column}: the dataset has columns ${Object.keys(ds.features).join(", ")}`,
    );
  }
  return [...f.names];
}

/**
 * Sets the dropout config fields given on the command line (`--hidden-dropout-prob`,
 * `--attention-probs-dropout-prob`, `--classifier-dropout`), as HF's `from_pretrained(..., field=value)`;
 * a field the model family's config lacks is an error.
 */
export function applyDropoutOverrides(model: TokenClassifier, cli: TrainCliOptions): void {
  const fields = {
    hidden_dropout_prob: cli.hiddenDropoutProb,
    attention_probs_dropout_prob: cli.attentionProbsDropoutProb,
    classifier_dropout: cli.classifierDropout,
  };
  const config = model.config as unknown as Record<string, unknown>;
  for (const [field, value] of Object.entries(fields)) {
    if (value === null || value === undefined) continue;
    if (!(field in config)) {
      throw new ArgsError(`--${field.replaceAll("_", "-")}: ${model.config.model_type} has no ${field}`);
    }
    config[field] = value;
  }
}

/** Everything a run needs, prepared from the command line. */
export interface PreparedRun {
  args: TrainingArguments;
  cli: TrainCliOptions;
  model: TokenClassifier;
  tokenizer: WordTokenizer;
  tokenizerDir: string | URL;
  train: ReturnType<typeof tokenizeAndAlign>;
  eval: EvalSet | undefined;
  metric: "entity" | "token";
}

/** Loads data, tokenizer and model for a parsed command line (no training). */
export async function prepareRun(
  args: TrainingArguments,
  cli: TrainCliOptions,
  log = console.error,
): Promise<PreparedRun> {
  const data = await loadDataset(cli.dataset);
  const trainSplit = data.train;
  if (!trainSplit) {
    throw new ArgsError(`--dataset ${cli.dataset} has no train split (has ${Object.keys(data)})`);
  }
  const evalSplit = data.validation ?? data.valid ?? data.test;
  checkSplitHasRows(trainSplit.rows.length, cli.dataset, "train");
  const labels = _labelNames(trainSplit, cli.labelColumn);

  let model: TokenClassifier;
  let tokenizerDir: string | URL = cli.tokenizer ?? BERT_BASE_CASED_DIR;
  if (cli.fromScratch) {
    const tok = await loadTokenizer(tokenizerDir, { addPrefixSpace: "auto" });
    const o: Record<string, number> = { vocab_size: tok.vocabSize, pad_token_id: tok.padId };
    if (cli.hiddenSize) o.hidden_size = cli.hiddenSize;
    if (cli.numHiddenLayers) o.num_hidden_layers = cli.numHiddenLayers;
    if (cli.numAttentionHeads) o.num_attention_heads = cli.numAttentionHeads;
    if (cli.intermediateSize) o.intermediate_size = cli.intermediateSize;
    if (cli.maxPositionEmbeddings) o.max_position_embeddings = cli.maxPositionEmbeddings;
    let config;
    try {
      config = makeModelConfig(cli.modelType, o, labels);
    } catch (e) {
      if (e instanceof ConfigError) throw new ArgsError(`--model-type ${cli.modelType}: ${e.message}`);
      throw e;
    }
    model = randomModel(config, args.seed);
    log(`train: from scratch, ${cli.modelType}, ${(model.numParameters() / 1e6).toFixed(2)}M parameters`);
  } else {
    try {
      const { model: m, report } = await fromPretrained(cli.model, {
        labels,
        revision: cli.revision,
        seed: args.seed,
        onProgress: downloadProgress(),
      });
      model = m;
      for (const line of describeLoadReport(report, cli.model)) log(line);
      const ownTokenizer = await _exists(`${report.dir}/tokenizer.json`) ||
        await _exists(`${report.dir}/vocab.txt`);
      if (!cli.tokenizer && ownTokenizer) tokenizerDir = report.dir;
    } catch (e) {
      if (e instanceof ArgsError) throw e;
      throw new WeightsUnavailableError(cli.model, (e as Error).message);
    }
  }
  applyDropoutOverrides(model, cli);
  // run_ner.py's rule: byte-level BPE tokenizers get add_prefix_space=True for pre-split words
  const tokenizer = await loadTokenizer(tokenizerDir, { addPrefixSpace: "auto" });
  const maxLength = Math.min(cli.maxLength ?? tokenizer.modelMaxLength, maxInputLength(model.config));
  const prep = (ds: TokenDataset, limit: number | null) => {
    const sliced = limit ? { ...ds, rows: ds.rows.slice(0, limit) } : ds;
    return tokenizeAndAlign(sliced, tokenizer, {
      labelColumn: cli.labelColumn,
      firstSubtokenOnly: !cli.labelAllTokens,
      maxLength,
    });
  };
  if (!cli.fromScratch) {
    checkTokenizerFits(tokenizer.vocabSize, model.config.vocab_size, String(tokenizerDir));
  }
  const train = prep(trainSplit, cli.maxTrainSamples);
  checkSplitUsable(train.examples, cli.dataset, "train"); // empty file, only -DOCSTART-, no labels
  let evalSet: EvalSet | undefined;
  if (evalSplit && args.evalStrategy !== "no") {
    const ev = prep(evalSplit, cli.maxEvalSamples);
    checkSplitUsable(ev.examples, cli.dataset, evalSplit.split);
    const names = _labelNames(evalSplit, cli.labelColumn);
    evalSet = {
      examples: ev.examples,
      wordTags: evalSplit.rows.map((r) => r.tags[cli.labelColumn].map((t) => names[t])),
    };
  }
  const metric = cli.labelColumn === "pos_tags" ? "token" : "entity";
  return { args, cli, model, tokenizer, tokenizerDir, train, eval: evalSet, metric };
}

/** Runs `deno task train` with `argv`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed, prof;
  try {
    prof = profileFromArgs(argv); // --profile / --profile-trace FILE (src/engine/profiler_cli.ts)
    parsed = parseTrainArgs(prof.rest);
  } catch (e) {
    if (!(e instanceof ArgsError) && prof) throw e;
    console.error(`train: ${(e as Error).message}\n\n${helpText()}`);
    return 2;
  }
  if (parsed.cli.help) {
    console.log(helpText());
    return 0;
  }
  let run: PreparedRun;
  let group: ProcessGroup;
  try {
    group = await initProcessGroup(); // MPI only when started by mpiexec with several processes
  } catch (e) {
    console.error(`train: ${(e as Error).message}`);
    return 1;
  }
  const isMain = group.rank === 0;
  try {
    // Output folder, resume target and its files, changed arguments: checked before loading anything.
    for (const line of await preflightTrain(parsed.args, parsed.cli)) if (isMain) console.error(line);
    await initGpu();
    if (parsed.args.fp16) requireShaderF16(); // one line, exit 1, before data or model is loaded
    run = await prepareRun(parsed.args, parsed.cli, isMain ? console.error : () => {});
  } catch (e) {
    if (e instanceof ArgsError) {
      console.error(`train: ${e.message}\n\n${helpText()}`);
      return 2;
    }
    console.error(`train: ${(e as Error).message}`);
    return 1;
  }
  const { args, cli, model } = run;
  const trainer = new Trainer({
    model,
    args,
    train: run.train.examples,
    eval: run.eval,
    padId: run.tokenizer.padId,
    metric: run.metric,
    tokenizerDir: run.tokenizerDir,
    baseModel: cli.fromScratch ? null : await _exists(cli.model) ? await Deno.realPath(cli.model) : cli.model,
    datasetName: cli.dataset,
    group,
  });
  if (isMain) {
    console.error(
      `train: ${run.train.examples.length} examples, ${trainer.stepsPerEpoch} steps/epoch, ${trainer.totalSteps} steps` +
        ` → ${args.outputDir}${group.size > 1 ? ` (${group.size} processes, ${group.backend})` : ""}`,
    );
  }
  let result;
  try {
    prof.start();
    result = await trainer.train();
    await prof.finish(result.globalStep);
    // --push-to-hub: HF's trainer.push_to_hub() at the end; an interrupted run only waits for its pushes
    if (args.pushToHub && !result.interrupted) await trainer.pushToHub();
    else await trainer.waitForPushes();
  } catch (e) {
    console.error(`train: ${group.size > 1 ? `rank ${group.rank}: ` : ""}${(e as Error).message}`);
    return 1;
  }
  await group.barrier();
  group.finalize();
  const e = result.lastEval ?? {};
  if (isMain) {
    console.log(JSON.stringify({
      eval_f1: e.eval_f1 ?? null,
      eval_f1_subword: e.eval_f1_subword ?? null,
      eval_accuracy: e.eval_accuracy ?? null,
      train_loss: result.trainLoss,
      train_seconds: Math.round(result.trainSeconds * 10) / 10,
      global_step: result.globalStep,
      interrupted: result.interrupted,
      output_dir: args.outputDir,
      ...(trainer.hubUrl ? { hub_url: trainer.hubUrl } : {}),
    }));
  }
  model.dispose();
  return result.interrupted ? SIGINT_EXIT_CODE : 0; // 130 after saving, as a shell expects of Ctrl-C
}

if (import.meta.main) {
  let code = 1;
  try {
    code = await main(Deno.args);
  } catch (e) {
    console.error(`train: ${(e as Error).message}`); // one line, never a stack trace
  }
  Deno.exit(code);
}
