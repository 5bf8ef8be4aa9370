/** CPU reference of kernels/finite.wgsl: non-finite counts and the first flagged step. */

/** Number of NaN/±Inf elements. */
export function countNonFiniteRef(x: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) n++;
  return n;
}

/** The flag after checking `values[s]` at step s + 1 in order (0: never non-finite). */
export function firstNonFiniteStepRef(values: readonly ArrayLike<number>[]): number {
  const i = values.findIndex((v) => countNonFiniteRef(v) > 0);
  return i < 0 ? 0 : i + 1;
}
