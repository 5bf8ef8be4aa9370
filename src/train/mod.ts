/**
 * Training: TrainingArguments, the Trainer, checkpoints, LR schedules and the building blocks of a custom
 * (Accelerate-style) loop.
 * @module
 */
export * from "./args.ts";
export * from "./schedule.ts";
export * from "./checkpoint.ts";
export * from "./trainer.ts";
export * from "./accelerator.ts";
export * from "./grad_scaler.ts";
export { downloadProgress, formatDuration, Progress, type ProgressInfo } from "./progress.ts";
export { modelCard, type ModelCardInput } from "./model_card.ts";
export { trainingCurveSvg } from "./svg.ts";
export {
  argsForSave,
  type HubContext,
  HubPusher,
  type HubStrategy,
  type PushJob,
  type PushRecord,
  pushToHub,
  type PushToHubOptions,
  resolveResumeCheckpoint,
} from "./hub_push.ts";
