/**
 * Learning-rate schedules as in `transformers.get_scheduler`: linear decay, constant and cosine, each with
 * linear warmup. A schedule is a pure function of the optimizer step, so resuming needs only the step.
 * @module
 */

/** Schedule names (HF `lr_scheduler_type`). */
export type ScheduleType = "linear" | "constant" | "constant_with_warmup" | "cosine";

/** The parameters of a schedule. */
export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  /** Steps of linear warmup from 0. */
  warmupSteps: number;
  /** Total optimizer steps of the run. */
  totalSteps: number;
  /** Which curve follows the warmup. */
  type: ScheduleType;
}

/**
 * The learning rate used by optimizer step `step` (0-based: the first update uses step 0), exactly as the
 * LambdaLR schedules of transformers compute it.
 */
export function learningRate(step: number, o: ScheduleOptions): number {
  const { lr, warmupSteps: w, totalSteps: n } = o;
  if (o.type === "constant") return lr;
  if (step < w) return lr * step / Math.max(1, w);
  switch (o.type) {
    case "constant_with_warmup":
      return lr;
    case "linear":
      return lr * Math.max(0, (n - step) / Math.max(1, n - w));
    case "cosine": {
      const progress = (step - w) / Math.max(1, n - w);
      return lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
  }
}

/** Warmup steps from `warmupSteps` or, when that is 0, `ceil(warmupRatio · totalSteps)` (HF's rule). */
export function warmupStepsFor(totalSteps: number, warmupSteps: number, warmupRatio: number): number {
  return warmupSteps > 0 ? warmupSteps : Math.ceil(warmupRatio * totalSteps);
}
