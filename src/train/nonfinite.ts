/**
 * Non-finite loss detection without a readback per step: after each optimizer step a GPU-side sticky flag
 * records the first step whose running loss sum or gradient norm is NaN/±Inf (kernels/finite.wgsl); the
 * flag rides along with the readbacks the Trainer already does (logging, progress, checkpoints, the end),
 * which then stop the run with {@link NonFiniteLossError} naming that step — before any checkpoint or the
 * final folder is written from diverged weights.
 * @module
 */
import { readAll, type Tensor } from "../engine/tensor.ts";
import { flagNonFinite, newNonFiniteFlag } from "../ops/finite.ts";
import { gradNorm } from "../ops/adamw.ts";

/** The loss or gradient norm became NaN/±Inf; nothing was saved from that step on. */
export class NonFiniteLossError extends Error {
  /** The optimizer step (1-based) whose loss or gradient norm was first non-finite. */
  readonly step: number;

  /** Creates the error for `step`. */
  constructor(step: number, lastGoodCheckpoint: string | null) {
    super(
      `the loss or gradient norm became NaN or infinite at step ${step}; training stopped and nothing was ` +
        `saved from that step on${
          lastGoodCheckpoint ? ` (last finite checkpoint: ${lastGoodCheckpoint})` : ""
        }. ` +
        `Lower --learning-rate, or clip gradients with --max-grad-norm (e.g. 1.0)`,
    );
    this.name = "NonFiniteLossError";
    this.step = step;
  }
}

/** The sticky flag and its checks; create in train(), dispose at the end. */
export class NonFiniteGuard {
  readonly #flag: Tensor = newNonFiniteFlag().keep();
  /** Where the error message points a user (the newest checkpoint saved before the failure). */
  lastGoodCheckpoint: string | null = null;

  /** Encodes the check of this step's values (loss sum, grad norm); `step` is the new global step (≥ 1). */
  flag(values: readonly (Tensor | null)[], step: number): void {
    for (const v of values) if (v) flagNonFinite(v, this.#flag, step);
  }

  /**
   * Flags the step when the gradients' global norm is NaN/±Inf (used when no clipping computes the norm,
   * `max_grad_norm` 0); call before the gradients are cleared.
   */
  flagGrads(params: readonly Tensor[], step: number): void {
    const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
    if (!grads.length) return;
    const norm = gradNorm(grads);
    flagNonFinite(norm, this.#flag, step);
    norm.dispose();
  }

  /**
   * Reads `tensors` back together with the flag (one readback) and throws {@link NonFiniteLossError} when
   * a step was flagged; returns the tensors' data.
   */
  async read(tensors: readonly Tensor[]): Promise<(Float32Array | Int32Array | Uint32Array)[]> {
    const out = await readAll([...tensors, this.#flag]);
    const step = out.pop()![0];
    if (step > 0) throw new NonFiniteLossError(step, this.lastGoodCheckpoint);
    return out;
  }

  /** Frees the flag. */
  dispose(): void {
    this.#flag.dispose();
  }
}
