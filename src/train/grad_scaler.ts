/**
 * Dynamic loss scaling for `--fp16`, with the semantics and defaults of `torch.cuda.amp.GradScaler` (as
 * HF Trainer uses it): the loss is multiplied by `scale` before backward (here: the backward seed),
 * the gradients are multiplied by `1/scale` before gradient clipping ({@link GradScaler.unscale}, which
 * also finds NaN/±Inf gradients in the same pass), the optimizer step is skipped when any gradient is
 * non-finite, and {@link GradScaler.update} then halves the scale (`backoff_factor` 0.5) and resets the
 * growth tracker; after `growth_interval` (2000) steps in a row without a non-finite gradient the scale
 * doubles (`growth_factor` 2). The scale starts at 2¹⁶. Being a power of two, multiplying by it and by
 * its inverse is exact for normal values.
 *
 * The state is `torch.cuda.amp.GradScaler.state_dict()`'s keys, saved in checkpoints as `scaler.json`
 * (HF saves the same dict with torch.save as `scaler.pt`). Unlike torch, which decides on the GPU and
 * syncs in `optimizer.step`, the decision is read back here once per optimizer step (one small readback).
 * @module
 */
import { readAll, Tensor } from "../engine/tensor.ts";
import { countNonFiniteInto, unscaleAndCountNonFinite } from "../ops/finite.ts";

/** Options of {@link GradScaler} (torch's constructor arguments). */
export interface GradScalerOptions {
  /** Initial scale (default 2¹⁶ = 65536). */
  initScale?: number;
  /** Multiplier after `growthInterval` good steps (default 2). */
  growthFactor?: number;
  /** Multiplier after a step with non-finite gradients (default 0.5). */
  backoffFactor?: number;
  /** Good steps in a row before growing (default 2000). */
  growthInterval?: number;
}

/** `torch.cuda.amp.GradScaler.state_dict()`: the contents of a checkpoint's `scaler.json`. */
export interface GradScalerState {
  scale: number;
  growth_factor: number;
  backoff_factor: number;
  growth_interval: number;
  _growth_tracker: number;
}

/** File name of the scaler state in a checkpoint folder. */
export const SCALER_FILE = "scaler.json";

/** What {@link GradScaler.unscale} found. */
export interface UnscaleResult {
  /** Some gradient element was NaN/±Inf: skip the optimizer step. */
  foundInf: boolean;
  /** Whether each of the `alsoCheck` tensors was all finite. */
  finite: boolean[];
}

/** Dynamic loss scaling (see the module doc). */
export class GradScaler {
  /** The current loss scale. */
  scale: number;
  /** Good steps since the last growth or backoff. */
  growthTracker = 0;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  /** Optimizer steps skipped so far by this scaler (not part of the saved state). */
  skippedSteps = 0;

  /** Creates a scaler with torch's defaults for anything not given. */
  constructor(opts: GradScalerOptions = {}) {
    this.scale = Math.fround(opts.initScale ?? 2 ** 16);
    this.growthFactor = opts.growthFactor ?? 2;
    this.backoffFactor = opts.backoffFactor ?? 0.5;
    this.growthInterval = opts.growthInterval ?? 2000;
    if (!(this.scale > 0 && Number.isFinite(this.scale))) {
      throw new RangeError(`GradScaler: init scale ${this.scale} must be positive`);
    }
    if (!(this.growthFactor > 1)) throw new RangeError("GradScaler: growth factor must be > 1");
    if (!(this.backoffFactor > 0 && this.backoffFactor < 1)) {
      throw new RangeError("GradScaler: backoff factor must be in (0, 1)");
    }
    if (!(Number.isInteger(this.growthInterval) && this.growthInterval > 0)) {
      throw new RangeError("GradScaler: growth interval must be a positive integer");
    }
  }

  /**
   * Unscales the gradients of `params` in place (× 1/scale, before any clipping) and reports whether any
   * was non-finite; `alsoCheck` tensors (e.g. the step's loss) are checked in the same readback.
   */
  async unscale(params: readonly Tensor[], alsoCheck: readonly Tensor[] = []): Promise<UnscaleResult> {
    const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
    const n = alsoCheck.length;
    // Slots 0..n-1: the alsoCheck tensors; slot n: the gradients.
    const counts = Tensor.from(new Uint32Array(n + 1), [n + 1], "u32", "grad_scaler.counts");
    countNonFiniteInto(alsoCheck, counts, 0);
    unscaleAndCountNonFinite(grads, 1 / this.scale, counts, n);
    const [data] = await readAll([counts]);
    counts.dispose();
    const gradBad = data[n];
    const finite = alsoCheck.map((_, i) => data[i] === 0);
    return { foundInf: gradBad > 0, finite };
  }

  /**
   * torch's `update()`: after a step with non-finite gradients, scale × backoff and the tracker resets;
   * otherwise the tracker counts the step and, at `growthInterval`, the scale grows (if still finite) and
   * the tracker resets.
   */
  update(foundInf: boolean): void {
    if (foundInf) {
      this.scale = Math.fround(this.scale * this.backoffFactor); // torch's scale is a float32 tensor
      this.growthTracker = 0;
      this.skippedSteps++;
      return;
    }
    const successful = this.growthTracker + 1;
    if (successful === this.growthInterval) {
      const grown = Math.fround(this.scale * this.growthFactor);
      if (Number.isFinite(grown)) this.scale = grown;
      this.growthTracker = 0;
    } else this.growthTracker = successful;
  }

  /** The state as torch's `state_dict()`. */
  stateDict(): GradScalerState {
    return {
      scale: this.scale,
      growth_factor: this.growthFactor,
      backoff_factor: this.backoffFactor,
      growth_interval: this.growthInterval,
      _growth_tracker: this.growthTracker,
    };
  }

  /** A scaler restored from {@link stateDict} output; `where` names the source in errors. */
  static fromState(s: unknown, where = "scaler state"): GradScaler {
    const o = (s ?? {}) as Record<string, unknown>;
    for (const k of ["scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"]) {
      if (typeof o[k] !== "number" || !Number.isFinite(o[k])) {
        throw new Error(`${where}: field '${k}' must be a finite number, got ${JSON.stringify(o[k])}`);
      }
    }
    const g = new GradScaler({
      initScale: o.scale as number,
      growthFactor: o.growth_factor as number,
      backoffFactor: o.backoff_factor as number,
      growthInterval: o.growth_interval as number,
    });
    const t = o._growth_tracker as number;
    if (!(Number.isInteger(t) && t >= 0)) {
      throw new Error(`${where}: _growth_tracker must be an integer >= 0`);
    }
    g.growthTracker = t;
    return g;
  }
}
