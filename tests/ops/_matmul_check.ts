// The matmul checks shared by matmul_test.ts and matmul_shared_test.ts (and the tolerance autocast_test.ts
// uses): forward and backward of one product against the float64 CPU reference, plus central finite
// differences of the reference loss.
import { linear, matmul } from "../../src/ops/matmul.ts";
import { backward } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { assertEquals } from "../_assert.ts";
import { assertClose, dot, f64, finiteDiff, randn } from "../_util.ts";
import { refMatmul, refMatmulAbs, refMatmulGrads, type RefMatmulSpec } from "../ref/matmul.ts";

// Tolerances. A float32 sum of n products has |error| ≤ γ_n·Σ|terms| with γ_n ≈ n·eps, eps = 2⁻²⁴ (unit
// roundoff; any summation order, FMA or not). Each check uses atol = (n + 2)·eps·max Σ|terms| over the
// tensor, n = number of summed terms (K for C, N for dA, M·batch for a shared dB, rows for dbias), and a
// small rtol = 1e-6. For unit-normal data with K = 3072 this is ≈ 3074·6e-8·2000 ≈ 0.37 absolute on values
// of size ~55: loose against round-off (errors grow ~√K) yet far below the O(1) error of any wrong term.
/** Unit roundoff of float32. */
export const EPS32 = 2 ** -24;

/** atol = (n + 2)·eps·max Σ|terms| over the tensor (n summed terms), rtol = 1e-6. */
export function tol(terms: number, abs: Float64Array): { atol: number; rtol: number } {
  let mx = 0;
  for (const v of abs) mx = Math.max(mx, v);
  return { atol: (terms + 2) * EPS32 * mx + 1e-7, rtol: 1e-6 };
}

/** One product to check: the reference spec plus leading batch dimensions and a bias. */
export interface Case extends RefMatmulSpec {
  batchDims?: number[];
  bias?: boolean;
}

/** Runs matmul forward and backward on the GPU and checks C, dA, dB, dbias against the float64 ref. */
export async function check(c: Case, seed: number, fdSamples = 4): Promise<void> {
  const { M, N, K } = c;
  const batchDims = c.batchDims ?? [];
  const batch = batchDims.reduce((p, d) => p * d, 1);
  const spec: RefMatmulSpec = { ...c, batch };
  const a = randn(batch * M * K, seed), b = randn((c.sharedB ? 1 : batch) * K * N, seed + 1);
  const bias = c.bias ? randn(N, seed + 2) : null;
  const r = randn(batch * M * N, seed + 3);
  const what = `${c.transA ? "Aᵀ" : "A"}·${c.transB ? "Bᵀ" : "B"} [${batchDims}] ${M}×${K}·${K}×${N}` +
    `${c.sharedB ? " shared B" : ""}${c.bias ? " +bias" : ""}`;
  await tidy(async () => {
    const ta = Tensor.from(a, [...batchDims, ...(c.transA ? [K, M] : [M, K])], "f32", "A");
    const tb = Tensor.from(b, [...(c.sharedB ? [] : batchDims), ...(c.transB ? [N, K] : [K, N])], "f32", "B");
    const tbias = bias ? Tensor.from(bias, [N], "f32", "bias") : undefined;
    ta.requiresGrad = tb.requiresGrad = true;
    if (tbias) tbias.requiresGrad = true;
    const out = matmul(ta, tb, { transA: c.transA, transB: c.transB, bias: tbias });
    if (out.shape.join() !== [...batchDims, M, N].join()) throw new Error(`${what}: shape ${out.shape}`);
    backward(out, Tensor.from(r, out.shape));
    const [y, da, db, dbias] = await readAll([out, ta.grad!, tb.grad!, ...(tbias ? [tbias.grad!] : [])]);
    assertClose(y, refMatmul(a, b, spec, bias), tol(K, refMatmulAbs(a, b, spec, bias)), `${what}: C`);
    const g = refMatmulGrads(a, b, r, spec);
    assertClose(da, g.da, tol(N, g.daAbs), `${what}: dA`);
    assertClose(db, g.db, tol(c.sharedB ? batch * M : M, g.dbAbs), `${what}: dB`);
    if (tbias) assertClose(dbias, g.dbias, tol(batch * M, g.dbiasAbs), `${what}: dbias`);
    // Central finite differences of the float64 forward at a few entries of each input.
    if (fdSamples > 0) {
      const loss = ([xa, xb, xbias]: Float64Array[]) => dot(refMatmul(xa, xb, spec, bias ? xbias : null), r);
      const inputs = [f64(a), f64(b), f64(bias ?? [])];
      const grads = [da, db, dbias];
      for (let w = 0; w < (bias ? 3 : 2); w++) {
        const n = inputs[w].length;
        const idx = [0, n - 1, ...Array.from({ length: fdSamples - 2 }, (_, i) => (i * 7919 + seed) % n)];
        const fd = finiteDiff(loss, inputs, w, 1e-3, idx);
        const got = idx.map((i) => grads[w][i]);
        assertClose(got, idx.map((i) => fd[i]), { atol: 2e-3, rtol: 1e-4 }, `${what}: FD input ${w}`);
      }
    }
  });
}

/** The four layouts (transA, transB). */
export const LAYOUTS = [[false, false], [false, true], [true, false], [true, true]] as const;

/**
 * `linear` (x (lead…, in) · Wᵀ + b, with and without bias) forward and backward against the float64
 * reference, plus central finite differences of dx and dW at their first, a middle and their last entry.
 */
export async function checkLinear(lead: number[], inF: number, outF: number, seed: number): Promise<void> {
  const rows = lead.reduce((p, d) => p * d, 1);
  for (const withBias of [true, false]) {
    await tidy(async () => {
      const x = randn(rows * inF, seed), w = randn(outF * inF, seed + 1), bias = randn(outF, seed + 2);
      const r = randn(rows * outF, seed + 3);
      const tx = Tensor.from(x, [...lead, inF]), tw = Tensor.from(w, [outF, inF]);
      const tbias = withBias ? Tensor.from(bias, [outF]) : null;
      tx.requiresGrad = tw.requiresGrad = true;
      if (tbias) tbias.requiresGrad = true;
      const y = linear(tx, tw, tbias);
      assertEquals(y.shape, [...lead, outF]);
      backward(y, Tensor.from(r, y.shape));
      const got = await readAll([y, tx.grad!, tw.grad!, ...(tbias ? [tbias.grad!] : [])]);
      const spec: RefMatmulSpec = { M: rows, N: outF, K: inF, transB: true };
      const b = withBias ? bias : null;
      assertClose(got[0], refMatmul(x, w, spec, b), tol(inF, refMatmulAbs(x, w, spec, b)), "linear y");
      const g = refMatmulGrads(x, w, r, spec);
      assertClose(got[1], g.da, tol(outF, g.daAbs), "linear dx");
      assertClose(got[2], g.db, tol(rows, g.dbAbs), "linear dW");
      if (tbias) assertClose(got[3], g.dbias, tol(rows, g.dbiasAbs), "linear dbias");
      const loss = ([xx, ww]: Float64Array[]) => dot(refMatmul(xx, ww, spec, b), r);
      for (const [which, n] of [[0, rows * inF], [1, outF * inF]] as const) {
        const idx = [0, Math.floor(n / 2), n - 1];
        const fd = finiteDiff(loss, [f64(x), f64(w)], which, 1e-3, idx);
        assertClose(
          idx.map((i) => got[1 + which][i]),
          idx.map((i) => fd[i]),
          { atol: 2e-3, rtol: 1e-4 },
          `linear FD ${which ? "dW" : "dx"}`,
        );
      }
    });
  }
}
