import { erf, gelu } from "../../src/ops/gelu.ts";
import { backward } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { assertClose, dot, f64, finiteDiff, randn, setupGpu } from "../_util.ts";
import { erf64, geluBackwardRef, geluRef } from "../ref/gelu.ts";

await setupGpu();

/** Forward: |y| <= |x| and y is f32, so ~1 ulp of y (measured max 3.8e-7 at y ≈ 4.9, i.e. 0.8 ulp). */
const FWD = { atol: 1e-7, rtol: 2e-7 };
/** Backward: dy·(Φ + xφ) with |Φ + xφ| <= 1.13 (measured max abs 1.5e-7 for dy = 1). */
const BWD = { atol: 3e-7, rtol: 3e-7 };

async function fwdBwd(x: Float32Array, g: Float32Array, shape: number[]) {
  return await tidy(async () => {
    const tx = Tensor.from(x, shape);
    tx.requiresGrad = true;
    const y = gelu(tx);
    backward(y, Tensor.from(g, shape));
    const [yy, dx] = await readAll([y, tx.grad!]);
    tx.grad!.dispose();
    return { y: yy, dx };
  });
}

Deno.test("gelu: erf approximation is within 1.2e-7 of a float64 erf over [-10, 10]", async () => {
  const n = 400_001;
  const xs = new Float32Array(n + 6);
  for (let i = 0; i < n; i++) xs[i] = -10 + 20 * i / (n - 1);
  // the branch boundary |z| = 1 and its neighbours, and tiny arguments
  xs.set([1, Math.fround(1 - 2 ** -24), Math.fround(1 + 2 ** -23), -1, 1e-30, -3e-8], n);
  const y = await tidy(() => erf(Tensor.from(xs, [xs.length])).read());
  let worst = 0, at = 0;
  for (let i = 0; i < xs.length; i++) {
    const e = Math.abs(y[i] - erf64(xs[i]));
    if (!(e <= worst)) [worst, at] = [e, xs[i]];
  }
  // Measured on lavapipe: 9.7e-8 at z = -1.0227 (1.6 ulp of 0.85).
  if (!(worst <= 1.2e-7)) throw new Error(`erf max abs error ${worst} at ${at} exceeds 1.2e-7`);
  assertClose(y.subarray(n + 4), [
    Math.fround(1e-30 * 2 / Math.sqrt(Math.PI)),
    -3e-8 * 2 / Math.sqrt(Math.PI),
  ], {
    atol: 0,
    rtol: 1e-6,
  }, "erf of tiny arguments (relative)");
  for (let i = 0; i < n; i++) {
    if (y[i] !== -y[n - 1 - i]) throw new Error(`erf is not odd at ${xs[i]}: ${y[i]} vs ${y[n - 1 - i]}`);
  }
  if (y[(n - 1) / 2] !== 0) throw new Error(`erf(0) = ${y[(n - 1) / 2]}`);
});

Deno.test("gelu: forward and backward match float64 at uneven shapes", async () => {
  const cases: [number[], number][] = [[[7, 13], 1], [[257, 129], 2], [[3, 5, 17, 33], 3], [[1], 4], [
    [0],
    5,
  ]];
  for (const [shape, seed] of cases) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randn(n, seed, 3), g = randn(n, seed + 100);
    const out = await fwdBwd(x, g, shape);
    assertClose(out.y, geluRef(x), FWD, `gelu [${shape}]`);
    assertClose(out.dx, geluBackwardRef(x, g), BWD, `gelu backward [${shape}]`);
  }
});

Deno.test("gelu: values at 0, ±10 and the lower tail", async () => {
  const x = Float32Array.from([0, 10, -10, -5, 5, -3, 3, -0.75, 1e-20, -1e-20, -12, 12]);
  const g = new Float32Array(x.length).fill(1);
  const out = await fwdBwd(x, g, [x.length]);
  // reference values from mpmath (30 digits)
  assertClose(out.y.subarray(0, 3), [0, 10, -7.619853024160526e-23], { atol: 0, rtol: 1e-5 }, "gelu(0, ±10)");
  assertClose(
    out.dx.subarray(0, 3),
    [0.5, 1, -7.618400096464814e-22],
    { atol: 0, rtol: 1e-5 },
    "gelu'(0, ±10)",
  );
  // Relative accuracy everywhere here, including x = -12 where y ≈ -2e-32 (1 + erf would round to 0).
  assertClose(out.y, geluRef(x), { atol: 0, rtol: 1e-4 }, "gelu (relative)");
  assertClose(out.dx, geluBackwardRef(x, g), { atol: 1e-7, rtol: 1e-4 }, "gelu' (relative)");
  if (!Object.is(out.dx[0], 0.5)) throw new Error(`gelu'(0) = ${out.dx[0]}`);
});

Deno.test("gelu: backward equals central finite differences of the float64 forward", async () => {
  const shape = [9, 31];
  const n = 9 * 31;
  const x = randn(n, 7, 2.5), r = randn(n, 8);
  const out = await fwdBwd(x, r, shape);
  const fd = finiteDiff(([xx]) => dot(geluRef(xx), r), [f64(x)], 0);
  assertClose(out.dx, fd, { atol: 1e-6, rtol: 1e-6 }, "gelu dx vs FD");
});
