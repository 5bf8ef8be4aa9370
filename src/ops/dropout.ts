/**
 * Inverted dropout with a counter-based mask (regenerated in the backward, never stored), and a
 * deterministic stream of per-call seeds. Kernels: `kernels/dropout.wgsl` + `kernels/rng.wgsl`.
 * @module
 */
import dropoutSrc from "../../kernels/dropout.wgsl" with { type: "text" };
import { f32, type ParamValue, type Resource, splitGrid } from "../engine/gpu.ts";
import { record } from "../engine/tape.ts";
import { dispatchStaged } from "../engine/staged_loads.ts";
import { Tensor } from "../engine/tensor.ts";
import { RNG_WGSL, rngHash } from "./rng.ts";

const _SRC = `${RNG_WGSL}\n${dropoutSrc}`;

/** Binds a tensor rounded up to whole vec4s (pool buffers are 256-byte multiples, so this stays inside). */
function _res4(t: Tensor): Resource {
  return { buffer: t.buffer, size: Math.max(16, Math.ceil(t.byteLength / 16) * 16) };
}

/** A dropout to apply inside another kernel: drop probability `p` and the mask's `seed` (see {@link dropout}). */
export interface DropoutSpec {
  /** Drop probability in [0, 1]. */
  p: number;
  /** The mask's stream, an integer taken modulo 2³² (one per call, e.g. from {@link DropoutSeeds}). */
  seed: number;
}

/**
 * The kernel parameters of a dropout (seed as u32, p and the keep scale `1 / (1 - p)` as f32, 0 when
 * p == 1), after checking them: kernels/dropout.wgsl's `Params` order, shared by kernels that fuse it.
 */
export function dropoutParams({ p, seed }: DropoutSpec): ParamValue[] {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  if (!Number.isInteger(seed)) throw new RangeError(`dropout: seed must be an integer, got ${seed}`);
  return [seed >>> 0, f32(p), f32(p === 1 ? 0 : 1 / (1 - p))];
}

function _apply(label: string, input: Tensor, p: number, seed: number): Tensor {
  const out = Tensor.empty(input.shape, "f32", label);
  const n4 = Math.ceil(input.size / 4);
  dispatchStaged({
    label,
    code: _SRC,
    entryPoint: "apply",
    inputs: [_res4(input)],
    outputs: [_res4(out)],
    params: [n4, ...dropoutParams({ p, seed })],
    workgroups: splitGrid(Math.ceil(n4 / 256)),
  }, ["src"]);
  return out;
}

/**
 * Inverted dropout (PyTorch `nn.Dropout` in training mode): element `i` of the flattened `x` is kept iff
 * `rngUniform(seed, i) >= Math.fround(p)` and kept elements are scaled by `1 / (1 - p)`; dropped ones are 0.
 * Returns `x` itself when `p == 0`. The same (seed, shape) always gives the same mask; the backward
 * regenerates it from (seed, i). Callers pass a distinct seed per call (see {@link DropoutSeeds}).
 * `seed` is an integer taken modulo 2³².
 */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  dropoutParams({ p, seed }); // checks p and seed
  if (x.dtype !== "f32") throw new TypeError(`dropout: ${x} must be f32`);
  if (p === 0) return x;
  const s = seed >>> 0;
  const y = _apply("dropout.forward", x, p, s);
  return record(y, "dropout", [x], (g) => [_apply("dropout.backward", g, p, s)]);
}

/**
 * A deterministic stream of dropout seeds: `next()` returns `rngHash(base + counter)` with `base` derived
 * from the constructor's seed, so the first 2³² seeds of a stream are distinct. `state()`/`setState()`
 * save and restore the counter, so a resumed training run draws the same masks.
 */
export class DropoutSeeds {
  #seedBase: number;
  #base: number;
  #counter = 0;

  /** Starts the stream of `seed` (an integer, taken modulo 2³²) at counter 0. */
  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`DropoutSeeds: seed must be an integer, got ${seed}`);
    this.#seedBase = this.#base = rngHash((seed ^ 0x9e3779b9) >>> 0);
  }

  /**
   * Selects sub-stream `stream` of the seed (data parallel: the process index), so each process draws
   * different, reproducible masks; stream 0 is the constructor's stream (a single process is unchanged).
   */
  setStream(stream: number): void {
    if (!Number.isInteger(stream) || stream < 0) throw new RangeError(`DropoutSeeds: bad stream ${stream}`);
    this.#base = stream === 0
      ? this.#seedBase
      : rngHash((this.#seedBase ^ rngHash(stream * 0x632be5ab)) >>> 0);
  }

  /** The next seed (a u32) of the stream. */
  next(): number {
    const s = rngHash((this.#base + this.#counter) >>> 0);
    this.#counter++;
    return s;
  }

  /** How many seeds have been drawn (the counter to save in a checkpoint). */
  state(): number {
    return this.#counter;
  }

  /** Restores the counter saved by {@link DropoutSeeds.state}. */
  setState(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`DropoutSeeds.setState: bad counter ${n}`);
    this.#counter = n;
  }
}
