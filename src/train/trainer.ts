/**
 * The Trainer: HF Trainer's loop for any {@link TokenClassifier} on the engine — shuffled batches,
 * gradient accumulation, grad-norm clipping, AdamW with HF's decay grouping and an LR schedule, logging,
 * evaluation (seqeval at word level as the headline plus the course's subword level; token accuracy for
 * POS), checkpoints with exact resume, `saveTotalLimit` rotation, best-model tracking, SIGINT handling,
 * and at the end the final HF folder with a model card, a JSON-lines log and an SVG training curve.
 * Everything is written through a {@link FileStore} (`TrainerOptions.store`): Deno's file system by
 * default, the default store (a `MemoryStore`) in a browser, or none with `writeFiles: false`.
 * @module
 */
import { BatchLoader } from "../data/loader.ts";
import { type FileStore, hasDeno } from "../io/storage.ts";
import { defaultStore, isDenoStore } from "../io/deno_store.ts";
import { appendText, recoverCommits } from "../io/store_files.ts";
import { type Batch, collate } from "../data/collator.ts";
import type { TokenizedExample } from "../data/prepare.ts";
import { NerEvaluator } from "../metrics/evaluator.ts";
import { TokenMetric } from "../metrics/token_metrics.ts";
import { argmaxLastAxis } from "../metrics/decode.ts";
import { AdamW, clipGradNorm } from "../ops/adamw.ts";
import { addInPlace, copy, fill, fillInPlace, zeros } from "../ops/elementwise.ts";
import { backward, noGrad } from "../engine/tape.ts";
import { readAll, type Tensor, tidy } from "../engine/tensor.ts";
import { type TokenClassifier, toTokenBatch } from "../model/classifier.ts";
import { configLabels } from "../model/config.ts";
import { savePretrained } from "../model/pretrained.ts";
import type { TrainingArguments } from "./args.ts";
import {
  type CheckpointContents,
  listCheckpoints,
  loadCheckpoint,
  type LogEntry,
  rotateCheckpoints,
  saveCheckpoint,
  type TrainerState,
} from "./checkpoint.ts";
import { modelCard } from "./model_card.ts";
import { Progress } from "./progress.ts";
import { learningRate, type ScheduleOptions, warmupStepsFor } from "./schedule.ts";
import { trainingCurveSvg } from "./svg.ts";
import { NonFiniteGuard, NonFiniteLossError } from "./nonfinite.ts";
import { sigintHandler, yieldToSignals } from "./interrupt.ts";
import {
  argsForSave,
  type HubContext,
  HubPusher,
  type PushRecord,
  resolveResumeCheckpoint,
} from "./hub_push.ts";
import type { CommitInfo } from "../io/hub_upload.ts";
import { DataParallel } from "./data_parallel.ts";
import type { ProcessGroup } from "../dist/group.ts";
import type { OverlappedGradientSync } from "../dist/collectives.ts";
import { parameterKey } from "../model/chunked.ts";
import { requireShaderF16, withAutocast } from "../ops/autocast.ts";
import { GradScaler, type GradScalerOptions } from "./grad_scaler.ts";

/** An evaluation split: tokenized examples plus each row's original word tags (word-level scoring). */
export interface EvalSet {
  examples: readonly TokenizedExample[];
  /** Tag strings per source row (index = example.row). */
  wordTags: readonly (readonly string[])[];
}

/** What the Trainer needs besides the model and arguments. */
export interface TrainerOptions {
  model: TokenClassifier;
  args: TrainingArguments;
  train: readonly TokenizedExample[];
  eval?: EvalSet;
  /** Tokenizer pad id (collator). */
  padId: number;
  /** `entity` (seqeval; NER and chunks) or `token` (accuracy; POS). */
  metric?: "entity" | "token";
  /** Tokenizer folder copied into checkpoints and the final folder. */
  tokenizerDir?: string | URL;
  /** Model name or path shown in the model card. */
  baseModel?: string | null;
  /** Dataset name shown in the model card. */
  datasetName?: string;
  /** Receives every log entry (also written to `<outputDir>/train_log.jsonl`). */
  onLog?: (entry: LogEntry) => void;
  /** Progress display; default: a bar on a TTY, plain lines otherwise. `false` disables it. */
  progress?: boolean;
  /** Writes the final model folder at the end of train() (default true). */
  saveFinal?: boolean;
  /**
   * Whether the run writes anything (train_log.jsonl, checkpoints, the final folder); default true.
   * `false`: nothing is written, log entries go to `onLog` and progress to `onProgress` only.
   */
  writeFiles?: boolean;
  /**
   * Where train_log.jsonl, the `checkpoint-<step>/` folders and the final folder go (`args.outputDir` is
   * a path inside it), and where `resumeFromCheckpoint` is read from: default Deno's file system where
   * Deno exists, else the default store (a `MemoryStore` unless `setFileStore` set another); e.g. an
   * `OpfsStore` in a tab so checkpoints outlive the page. Folders are written crash-safely in any store.
   */
  store?: FileStore;
  /** Receives every optimizer step's progress (also where no stderr bar is shown, e.g. a browser). */
  onProgress?: (p: { step: number; total: number; epoch: number; loss: number | null; lr: number }) => void;
  /** Environment/fetch/log of the Hub calls (`pushToHub`, resuming from a repo id); default the process's. */
  hub?: HubContext;
  /**
   * The process group for data-parallel training (default: one process). Rank 0 writes logs,
   * checkpoints and the final folder; see `./data_parallel.ts`.
   */
  group?: ProcessGroup;
  /** Gradient all-reduce bucket size in bytes (default 25 MiB, as PyTorch DDP's `bucket_cap_mb`). */
  bucketBytes?: number;
  /** `args.fp16`: the loss scaler's settings (default torch.cuda.amp.GradScaler's); see `./grad_scaler.ts`. */
  gradScaler?: GradScalerOptions;
}

/** Evaluation results with `eval_` keys as HF logs them. */
export type EvalMetrics = Record<string, number>;

/** The summary train() returns. */
export interface TrainResult {
  globalStep: number;
  trainLoss: number;
  trainSeconds: number;
  /** True when stopped early by SIGINT (a checkpoint was saved). */
  interrupted: boolean;
  lastEval: EvalMetrics | null;
  state: TrainerState;
}

/** The Trainer. */
export class Trainer {
  readonly model: TokenClassifier;
  readonly args: TrainingArguments;
  readonly optimizer: AdamW;
  readonly #opts: TrainerOptions;
  readonly #loader: BatchLoader<TokenizedExample>;
  readonly #labelNames: string[];
  #state: TrainerState;
  #microBatches = 0;
  #stopRequested = false;
  #lossSum: Tensor | null = null;
  #lastNorm: Tensor | null = null;
  #guard: NonFiniteGuard | null = null;
  readonly #dp: DataParallel;
  #hub: HubPusher | null = null;
  /** `args.fp16`: the loss scaler, this step's loss (checked before it joins the sum), scheduler steps. */
  #scaler: GradScaler | null = null;
  #stepLoss: Tensor | null = null;
  #schedSteps = 0;
  /** First step of the current run of skipped (overflowing) steps, 0 when the last step was not skipped. */
  #skipRunStart = 0;
  /** Where the run writes, null when it writes nothing. */
  readonly #store: FileStore | null;

  /** Sets up the optimizer (HF decay grouping) and the loader; no GPU work until train(). */
  constructor(opts: TrainerOptions) {
    if (opts.train.length === 0) throw new RangeError("Trainer: the training set has no examples");
    this.#opts = opts;
    this.#store = opts.writeFiles === false ? null : opts.store ?? defaultStore();
    this.model = opts.model;
    this.args = opts.args;
    const a = opts.args;
    this.optimizer = new AdamW(
      this.model.namedParameters().map(([name, param]) => ({
        param,
        weightDecay: this.model.decays(parameterKey(name)) ? a.weightDecay : 0, // a row chunk: its key's group
      })),
      { lr: a.learningRate, betas: [a.adamBeta1, a.adamBeta2], eps: a.adamEpsilon },
    );
    this.#loader = new BatchLoader(opts.train, {
      batchSize: a.perDeviceTrainBatchSize,
      padId: opts.padId,
      shuffle: true,
      seed: a.seed,
      groupByLength: a.groupByLength,
    });
    this.#dp = new DataParallel(this.#loader, a.gradientAccumulationSteps, opts.group, opts.bucketBytes);
    this.#labelNames = configLabels(this.model.config);
    this.#state = {
      global_step: 0,
      epoch: 0,
      max_steps: this.totalSteps,
      num_train_epochs: Math.ceil(this.totalSteps / this.stepsPerEpoch),
      logging_steps: a.loggingSteps,
      eval_steps: a.evalSteps,
      save_steps: a.saveSteps,
      train_batch_size: a.perDeviceTrainBatchSize,
      best_metric: null,
      best_model_checkpoint: null,
      log_history: [],
      loss_since_log: 0,
      steps_since_log: 0,
      num_input_tokens_seen: 0,
    };
  }

  /** Optimizer steps per epoch. */
  get stepsPerEpoch(): number {
    return Math.max(1, Math.ceil(this.#dp.localBatches / this.args.gradientAccumulationSteps));
  }

  /** Optimizer steps of the whole run. */
  get totalSteps(): number {
    const a = this.args;
    return a.maxSteps > 0 ? a.maxSteps : Math.ceil(a.numTrainEpochs * this.stepsPerEpoch);
  }

  /** True on the process that writes files (always, for a single process). */
  get isMainProcess(): boolean {
    return this.#dp.isMain;
  }

  /** The trainer state (log history etc.). */
  get state(): TrainerState {
    return this.#state;
  }

  #schedule(): ScheduleOptions {
    const a = this.args;
    return {
      lr: a.learningRate,
      warmupSteps: warmupStepsFor(this.totalSteps, a.warmupSteps, a.warmupRatio),
      totalSteps: this.totalSteps,
      type: a.lrSchedulerType,
    };
  }

  /** Asks the loop to stop after the current step (saving a checkpoint). */
  requestStop(): void {
    this.#stopRequested = true;
  }

  /** Whether this run writes files (see {@link TrainerOptions.writeFiles}). */
  get #writes(): boolean {
    return this.#store !== null;
  }

  /** The store written to (null with `writeFiles: false`). */
  get store(): FileStore | null {
    return this.#store;
  }

  /** The store checkpoints are read from (resume, best model): the one written to, else the default. */
  get #readStore(): FileStore {
    return this.#store ?? this.#opts.store ?? defaultStore();
  }

  async #log(entry: LogEntry): Promise<void> {
    this.#state.log_history.push(entry);
    this.#opts.onLog?.(entry);
    if (!this.#dp.isMain || !this.#store) return;
    await appendText(this.#store, `${this.args.outputDir}/train_log.jsonl`, JSON.stringify(entry) + "\n");
  }

  async #resolveResume(): Promise<string | null> {
    const r = this.args.resumeFromCheckpoint;
    if (!r) return null;
    const store = this.#readStore;
    if (r === "latest" || r === "true") {
      const all = await listCheckpoints(this.args.outputDir, store);
      if (!all.length) throw new Error(`no checkpoint-* folder in ${this.args.outputDir} to resume from`);
      return all[all.length - 1].path;
    }
    if (!isDenoStore(store)) {
      if ((await store.list(r)).length > 0) return r;
      throw new Error(`resumeFromCheckpoint ${r}: no such checkpoint folder in the store`);
    }
    return await resolveResumeCheckpoint(r, this.#opts.hub); // a folder, or a Hub repo's last-checkpoint/
  }

  /** Runs training to `totalSteps` (or until SIGINT). */
  async train(): Promise<TrainResult> {
    const a = this.args;
    // pushToHub: create the repo before any work, so a bad token or id fails fast
    if (a.fp16) requireShaderF16(); // --fp16 on an adapter without shader-f16: one clear error, before any work
    if (a.pushToHub && this.#dp.isMain) this.#hub ??= await HubPusher.create(a, this.#opts.hub);
    const started = performance.now();
    // Another store: finish or discard what a closed page left half-committed (Deno: the CLI's preflight).
    if (this.#store && this.#dp.isMain) await recoverCommits(this.#store, a.outputDir);
    const resumeFrom = await this.#resolveResume();
    if (resumeFrom) {
      const c = await loadCheckpoint(resumeFrom, this.model, this.optimizer, this.#readStore);
      this.#dp.checkResume(resumeFrom, c.rng.numProcesses);
      this.#state = c.state;
      this.#microBatches = c.rng.microBatches;
      // Skipped fp16 steps do not step the schedule (HF): the scheduler's own count is saved.
      this.#schedSteps = Number(c.scheduler.last_step ?? c.state.global_step);
      if (a.fp16 && c.scaler) this.#scaler = GradScaler.fromState(c.scaler, `${resumeFrom}/scaler.json`);
    } else if (this.#dp.isMain && this.#store) {
      // a fresh run starts a fresh log (Deno: the folder is created, the file created or truncated)
      await this.#store.writeFile(`${a.outputDir}/train_log.jsonl`, new Uint8Array(0));
    }
    await this.#dp.prepareModel([...this.model.params.values()], this.model.seeds);
    this.#lossSum = zeros([1], "loss_sum").keep();
    // The saved sum is global: one rank carries it, the log's all-reduce adds the others' zeros.
    if (this.#state.loss_since_log && this.#dp.isMain) {
      addInPlace(this.#lossSum, fill([1], this.#state.loss_since_log));
    }
    this.#guard = new NonFiniteGuard();
    if (a.fp16) {
      this.#scaler ??= new GradScaler(this.#opts.gradScaler);
      this.#stepLoss = zeros([1], "step_loss").keep();
    }
    const onSigint = sigintHandler(() => this.requestStop()); // a second Ctrl-C aborts (exit 130)
    let listening = false;
    try {
      Deno.addSignalListener("SIGINT", onSigint);
      listening = true;
    } catch { /* signals unsupported (e.g. Windows without permission): Ctrl-C then kills the run */ }
    const total = this.totalSteps;
    const progress = this.#opts.progress === false || !this.#dp.isMain || !hasDeno()
      ? null
      : new Progress(total, this.#state.global_step);
    let lastEval: EvalMetrics | null = null;
    let tokensSinceTick = 0;
    try {
      this.model.train();
      const nb = this.#dp.localBatches;
      let orderEpoch = -1;
      let indices: Int32Array[] = [];
      while (this.#state.global_step < total && !this.#stopRequested) {
        const epoch = Math.floor(this.#microBatches / nb);
        if (epoch !== orderEpoch) [orderEpoch, indices] = [epoch, this.#dp.batchIndices(epoch)];
        const inEpoch = this.#microBatches % nb;
        const group = indices.slice(inEpoch, Math.min(nb, inEpoch + a.gradientAccumulationSteps));
        // HF's num_items_in_batch: each micro-batch weighs its share of the step's labelled tokens.
        const weights = this.#dp.stepWeights(epoch, inEpoch, group.length);
        const sync = this.#dp.gradientSync(); // null unless overlapping the all-reduce with the backward
        for (const [k, idx] of group.entries()) {
          const batch = this.#collate(idx);
          tokensSinceTick += batch.attentionMask.reduce((s, m) => s + m, 0);
          this.#microStep(batch, weights[k], k === group.length - 1 ? sync : null);
          this.#microBatches++;
        }
        if (sync) await sync.finish([...this.model.params.values()]);
        else await this.#dp.syncGradients([...this.model.params.values()]);
        const skipped = this.#scaler ? await this.#unscale() : false;
        this.#optimizerStep(skipped);
        this.#guard.flag([this.#lossSum, this.#lastNorm], this.#state.global_step); // NaN/Inf: GPU flag
        await yieldToSignals(); // a Ctrl-C is seen before the next step starts
        this.#stopRequested = await this.#dp.any(this.#stopRequested);
        const step = this.#state.global_step;
        const epochFloat = this.#microBatches / nb;
        this.#state.epoch = epochFloat;
        const endOfEpoch = this.#microBatches % nb === 0;
        if (step % a.loggingSteps === 0 || step === total) await this.#logLoss(epochFloat);
        else if (step % 20 === 0) await this.#readLossForProgress();
        this.#state.num_input_tokens_seen += tokensSinceTick;
        progress?.tick(step, {
          epoch: epochFloat,
          loss: this.#lastLoss,
          lr: this.#lastLr,
          tokens: tokensSinceTick,
        });
        this.#opts.onProgress?.({ step, total, epoch: epochFloat, loss: this.#lastLoss, lr: this.#lastLr });
        tokensSinceTick = 0;
        const evalNow = a.evalStrategy === "steps"
          ? step % a.evalSteps === 0
          : a.evalStrategy === "epoch" && endOfEpoch;
        const saveNow = a.saveStrategy === "steps"
          ? step % a.saveSteps === 0
          : a.saveStrategy === "epoch" && endOfEpoch;
        if (evalNow && this.#opts.eval) {
          lastEval = await this.evaluate();
          await this.#log({ ...lastEval, epoch: _round(epochFloat), step });
          this.model.train();
        }
        if ((saveNow || (this.#stopRequested && step < total)) && this.#writes) await this.#save(lastEval);
      }
      progress?.done();
      const interrupted = this.#stopRequested && this.#state.global_step < total;
      const trainSeconds = (performance.now() - started) / 1000;
      const losses = this.#state.log_history.filter((e) => typeof e.loss === "number").map((e) =>
        e.loss as number
      );
      const trainLoss = losses.length ? losses.reduce((s, x) => s + x, 0) / losses.length : NaN;
      if (!interrupted) {
        await this.#log({
          train_runtime: _round(trainSeconds),
          train_samples_per_second: _round(this.#microBatches * a.perDeviceTrainBatchSize / trainSeconds),
          train_steps_per_second: _round(this.#state.global_step / trainSeconds),
          train_loss: trainLoss,
          epoch: _round(this.#state.epoch),
          step: this.#state.global_step,
        });
        await this.#guard.read([]); // never save a final model from diverged weights
        if (a.loadBestModelAtEnd && this.#state.best_model_checkpoint) await this.#loadBest();
        if (this.#opts.saveFinal !== false && this.#writes) await this.saveFinal(lastEval);
      }
      return {
        globalStep: this.#state.global_step,
        trainLoss,
        trainSeconds,
        interrupted,
        lastEval,
        state: this.#state,
      };
    } finally {
      if (listening) Deno.removeSignalListener("SIGINT", onSigint);
      this.#lossSum?.dispose();
      this.#lastNorm?.dispose();
      this.#guard?.dispose();
      this.#stepLoss?.dispose();
      this.#lossSum = this.#lastNorm = this.#guard = null;
      this.#stepLoss = null;
    }
  }

  #lastLoss: number | null = null;
  #lastLr = 0;

  #collate(indices: Int32Array): Batch {
    return _collateIndices(this.#loader, indices);
  }

  /** Forward and backward of one micro-batch whose mean loss weighs `weight` in the step's loss. */
  #microStep(batch: Batch, weight: number, sync: OverlappedGradientSync | null): void {
    tidy(() => {
      const out = withAutocast(() => this.model.forward(toTokenBatch(batch)), this.args.fp16);
      if (!out.loss) throw new Error("training batch has no labels");
      addInPlace(this.#stepLoss ?? this.#lossSum!, out.loss, weight); // fp16: checked before it is summed
      // × size: the gradient all-reduce averages over ranks.
      backward(
        out.loss,
        fill([1], weight * this.#dp.size * (this.#scaler?.scale ?? 1)), // fp16: the scaled loss
        sync ? { onGradReady: (p) => sync.ready(p) } : {},
      );
    });
  }

  /**
   * `args.fp16`, after the step's backward: unscales the gradients (before clipping, as HF) and finds
   * non-finite ones (then the step is skipped); adds the step's loss to the logged sum (a NaN/Inf loss
   * counts as the running mean, HF's `logging_nan_inf_filter`) and updates the loss scale.
   */
  async #unscale(): Promise<boolean> {
    const scaler = this.#scaler!, stepLoss = this.#stepLoss!;
    const { foundInf, finite } = await scaler.unscale([...this.model.params.values()], [stepLoss]);
    if (finite[0]) addInPlace(this.#lossSum!, stepLoss);
    else {
      const sum = copy(this.#lossSum!);
      addInPlace(this.#lossSum!, sum, 1 / (1 + this.#state.steps_since_log));
      sum.dispose();
    }
    fillInPlace(stepLoss, 0);
    scaler.update(foundInf);
    const step = this.#state.global_step + 1;
    if (!foundInf) this.#skipRunStart = 0;
    else if (!this.#skipRunStart) this.#skipRunStart = step;
    // Every step overflowing until the scale is below fp16's smallest subnormal: the model is broken
    // (torch would skip forever).
    if (foundInf && scaler.scale < 2 ** -24) {
      throw new NonFiniteLossError(this.#skipRunStart, this.#guard!.lastGoodCheckpoint);
    }
    return foundInf;
  }

  /** Clipping and AdamW, or (`skipped`: fp16 overflow) neither; the step counts either way, as in HF. */
  #optimizerStep(skipped = false): void {
    const step = this.#state.global_step;
    const lr = learningRate(this.#schedSteps, this.#schedule());
    const params = [...this.model.params.values()];
    if (skipped) { // HF: optimizer_step_was_skipped, so neither the optimizer nor the scheduler steps
      this.#lastNorm?.dispose();
      this.#lastNorm = null; // no grad_norm is logged for a skipped step
    } else {
      noGrad(() => {
        let scale: Tensor | null = null;
        if (this.args.maxGradNorm > 0) {
          const c = clipGradNorm(params, this.args.maxGradNorm);
          scale = c.scale;
          this.#lastNorm?.dispose();
          this.#lastNorm = c.norm.keep();
        } else this.#guard?.flagGrads(params, step + 1); // no clipping: still catch NaN/Inf gradients
        this.optimizer.step(lr, scale);
        scale?.dispose();
      });
      this.#schedSteps++;
    }
    this.optimizer.zeroGrad();
    this.#state.global_step = step + 1;
    this.#state.steps_since_log++;
    this.#lastLr = learningRate(this.#schedSteps, this.#schedule());
  }

  /** The loss scaler of an `fp16` run (null otherwise, and before train()). */
  get gradScaler(): GradScaler | null {
    return this.#scaler;
  }

  async #readLossForProgress(): Promise<void> {
    const [sum] = await this.#guard!.read([this.#lossSum!]);
    const [global] = await this.#dp.sum([sum[0]]);
    this.#lastLoss = global / Math.max(1, this.#state.steps_since_log);
  }

  async #logLoss(epoch: number): Promise<void> {
    const tensors = this.#lastNorm ? [this.#lossSum!, this.#lastNorm] : [this.#lossSum!];
    const [sum, norm] = await this.#guard!.read(tensors); // throws at a NaN/Inf loss or grad norm
    const [global] = await this.#dp.sum([sum[0]]); // the global mean: every rank's share of each step
    const loss = global / Math.max(1, this.#state.steps_since_log);
    this.#lastLoss = loss;
    const entry: LogEntry = { loss: _round(loss, 4) };
    if (norm) entry.grad_norm = norm[0];
    entry.learning_rate = this.#lastLr;
    entry.epoch = _round(epoch);
    entry.step = this.#state.global_step;
    await this.#log(entry);
    this.#lossSum!.dispose();
    this.#lossSum = zeros([1], "loss_sum").keep();
    this.#state.steps_since_log = 0;
    this.#state.loss_since_log = 0;
  }

  async #save(lastEval: EvalMetrics | null): Promise<void> {
    const [sum] = await this.#guard!.read([this.#lossSum!]); // never checkpoint diverged weights
    [this.#state.loss_since_log] = await this.#dp.sum([sum[0]]);
    const path = `${this.args.outputDir}/checkpoint-${this.#state.global_step}`;
    const metricKey = `eval_${this.args.metricForBestModel.replace(/^eval_/, "")}`;
    if (lastEval && metricKey in lastEval && Number.isFinite(lastEval[metricKey])) { // NaN is never best
      const value = lastEval[metricKey];
      const greater = this.args.greaterIsBetter ?? !metricKey.endsWith("loss");
      const best = this.#state.best_metric;
      if (best === null || (greater ? value > best : value < best)) {
        this.#state.best_metric = value;
        this.#state.best_model_checkpoint = path;
      }
    }
    const contents: CheckpointContents = {
      state: this.#state,
      rng: {
        dropout: this.model.seeds.state(),
        loaderSeed: this.args.seed,
        microBatches: this.#microBatches,
        numProcesses: this.#dp.size,
      },
      scheduler: { ...this.#schedule(), last_step: this.#schedSteps },
      ...(this.#scaler ? { scaler: this.#scaler.stateDict() } : {}),
      args: argsForSave(this.args), // the Hub token is never written
    };
    if (this.#dp.isMain) {
      await saveCheckpoint(
        this.args.outputDir,
        this.model,
        this.optimizer,
        contents,
        this.#opts.tokenizerDir,
        this.#store ?? undefined,
      );
      const keep = this.args.loadBestModelAtEnd ? this.#state.best_model_checkpoint : null;
      await rotateCheckpoints(this.args.outputDir, this.args.saveTotalLimit, keep, this.#store ?? undefined);
      await this.#pushOnSave(path, lastEval);
    }
    await this.#dp.barrier(); // the checkpoint exists for every rank from here on
    this.#guard!.lastGoodCheckpoint = path;
  }

  async #loadBest(): Promise<void> {
    const best = this.#state.best_model_checkpoint!;
    const state = this.#state;
    await loadCheckpoint(best, this.model, this.optimizer, this.#readStore);
    this.#state = state;
  }

  /** Evaluates on the eval set: `eval_loss` and the metrics with `eval_` keys. */
  async evaluate(): Promise<EvalMetrics> {
    const ev = this.#opts.eval;
    if (!ev) throw new Error("evaluate(): no eval set was given");
    const started = performance.now();
    this.model.eval();
    const loader = new BatchLoader(ev.examples, {
      batchSize: this.args.perDeviceEvalBatchSize,
      padId: this.#opts.padId,
    });
    const names = this.#labelNames;
    const ner = new NerEvaluator(names);
    const tok = new TokenMetric();
    let lossSum = 0, lossSamples = 0;
    // Data parallel: each rank runs its share of the batches; predictions are gathered once below.
    const allBatches = loader.batchIndices(0);
    const mine = this.#dp.evalBatches(allBatches);
    const progress = this.#opts.progress === false || !this.#dp.isMain || !hasDeno()
      ? null
      : new Progress(mine.length, 0, { label: "eval" });
    let done = 0;
    const localPreds = new Map<number, Int32Array>();
    for (const indices of mine) {
      const batch = _collateIndices(loader, indices);
      progress?.tick(++done, { tokens: batch.attentionMask.reduce((s, m) => s + m, 0) });
      const [logits, loss] = await noGrad(() =>
        tidy(async () => {
          const out = withAutocast(() => this.model.forward(toTokenBatch(batch)), this.args.fp16);
          return await readAll(out.loss ? [out.logits, out.loss] : [out.logits]);
        })
      );
      if (loss) {
        // HF repeats each batch's mean loss per sample, so the eval loss is a per-sample mean.
        lossSum += loss[0] * batch.batchSize;
        lossSamples += batch.batchSize;
      }
      const preds = argmaxLastAxis(logits as Float32Array, names.length);
      const T = batch.seqLen;
      indices.forEach((i, b) =>
        localPreds.set(i, preds.slice(b * T, b * T + ev.examples[i].inputIds.length))
      );
    }
    const predsByExample = await this.#dp.gatherPredictions(localPreds);
    [lossSum, lossSamples] = await this.#dp.sum([lossSum, lossSamples]);
    for (const indices of allBatches) {
      const rows = Array.from(indices, (i) => ev.examples[i]);
      const predictions = Array.from(indices, (i) => predsByExample.get(i)!);
      const labels = rows.map((ex) => ex.labels!);
      const wordIds = rows.map((ex) => ex.wordIds);
      const wordTags = rows.map((ex) => ev.wordTags[ex.row]);
      if (this.#opts.metric === "token") {
        const predTags = rows.map((ex, b) =>
          _wordLevel(ex.wordIds, predictions[b], names, wordTags[b].length)
        );
        tok.addBatch({ predictions: predTags, references: wordTags.map((t) => [...t]) });
      } else {
        ner.addBatch({ predictions, labels, wordIds, wordTags });
      }
    }
    progress?.done();
    const seconds = (performance.now() - started) / 1000;
    const out: EvalMetrics = { eval_loss: lossSamples ? lossSum / lossSamples : NaN };
    if (this.#opts.metric === "token") {
      const r = tok.compute();
      out.eval_accuracy = r.accuracy;
    } else {
      const r = ner.compute();
      const w = r.headline, s = r.subword;
      Object.assign(out, {
        eval_precision: w.overall_precision,
        eval_recall: w.overall_recall,
        eval_f1: w.overall_f1,
        eval_accuracy: w.overall_accuracy,
        eval_precision_subword: s.overall_precision,
        eval_recall_subword: s.overall_recall,
        eval_f1_subword: s.overall_f1,
        eval_accuracy_subword: s.overall_accuracy,
      });
      for (const [k, v] of Object.entries(w)) {
        if (v && typeof v === "object" && "f1" in v) out[`eval_${k}_f1`] = (v as { f1: number }).f1;
      }
    }
    out.eval_runtime = _round(seconds);
    out.eval_samples_per_second = _round(ev.examples.length / seconds);
    return out;
  }

  #card(lastEval: EvalMetrics | null): string {
    const a = this.args;
    return modelCard({
      modelName: a.outputDir.split("/").pop() || a.outputDir,
      // null: trained from scratch (no base_model); unset: the course's bert-base-cased
      baseModel: this.#opts.baseModel === undefined ? "bert-base-cased" : this.#opts.baseModel,
      datasetName: this.#opts.datasetName ?? "conll2003",
      args: a,
      logHistory: this.#state.log_history,
      finalEval: lastEval,
      hubUrl: this.#hub?.url ?? null,
    });
  }

  /** Hub hook of a save: pushes in the background as `hubStrategy` says (see `./hub_push.ts`). */
  async #pushOnSave(checkpoint: string, lastEval: EvalMetrics | null): Promise<void> {
    if (!this.#hub) return;
    const s = this.#state;
    const message = this.args.saveStrategy === "steps"
      ? `Training in progress, step ${s.global_step}`
      : `Training in progress, epoch ${Math.floor(s.epoch + 1e-9)}`;
    await this.#hub.onSave(checkpoint, message, {
      "README.md": this.#card(lastEval),
      "training_curve.svg": trainingCurveSvg(s.log_history),
    });
  }

  /**
   * HF's `trainer.push_to_hub()`: writes the final model card (naming the repo), waits for every
   * background push, then pushes the output folder (without `checkpoint-*`) with `commitMessage`
   * (default `End of training`) and waits for it. Creates the repo when `pushToHub` was not set.
   */
  async pushToHub(opts: { commitMessage?: string } = {}): Promise<CommitInfo | null> {
    if (!this.#dp.isMain) return null;
    this.#hub ??= await HubPusher.create(this.args, this.#opts.hub);
    await this.#hub.wait();
    const evals = this.#state.log_history.filter((e) => typeof e.eval_loss === "number");
    const last = evals.length ? evals[evals.length - 1] : null;
    const lastEval = last
      ? Object.fromEntries(
        Object.entries(last).filter(([k, v]) => k.startsWith("eval_") && typeof v === "number"),
      )
      : null;
    await Deno.mkdir(this.args.outputDir, { recursive: true });
    await Deno.writeTextFile(`${this.args.outputDir}/README.md`, this.#card(lastEval as EvalMetrics | null));
    return await this.#hub.pushFinal(opts.commitMessage ?? "End of training");
  }

  /** Waits for the background pushes (e.g. after an interrupted run). */
  async waitForPushes(): Promise<void> {
    await this.#hub?.wait();
  }

  /** The Hub repo's URL when pushing, else null. */
  get hubUrl(): string | null {
    return this.#hub?.url ?? null;
  }

  /** The pushes so far (message and outcome: done, skipped, failed, running). */
  get hubPushes(): readonly PushRecord[] {
    return this.#hub?.pushes ?? [];
  }

  /** Writes the final HF folder (into the run's store): model, tokenizer, model card, training curve, trainer state. */
  async saveFinal(lastEval: EvalMetrics | null): Promise<void> {
    if (!this.#dp.isMain) return; // data parallel: the main process writes
    const a = this.args;
    const card = this.#card(lastEval);
    await savePretrained(this.model, a.outputDir, {
      store: this.#readStore,
      tokenizerDir: this.#opts.tokenizerDir,
      extraFiles: {
        "README.md": card,
        "training_curve.svg": trainingCurveSvg(this.#state.log_history),
        "trainer_state.json": JSON.stringify(this.#state, null, 2) + "\n",
        "training_args.json": JSON.stringify(argsForSave(a), null, 2) + "\n",
        "all_results.json": JSON.stringify(lastEval ?? {}, null, 2) + "\n",
      },
    });
  }
}

/** Collates one batch of a loader by its example indices, with the loader's options. */
function _collateIndices(loader: BatchLoader<TokenizedExample>, indices: Int32Array): Batch {
  return collate(Array.from(indices, (i) => loader.examples[i]), loader.options);
}

function _wordLevel(
  wordIds: readonly (number | null)[],
  preds: ArrayLike<number>,
  names: readonly string[],
  numWords: number,
): string[] {
  const out = new Array<string>(numWords).fill("O");
  let prev: number | null = null;
  wordIds.forEach((w, i) => {
    if (w !== null && w !== prev && w < numWords) out[w] = names[preds[i]];
    prev = w;
  });
  return out;
}

function _round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
