import { checkLabels, crossEntropy, softmax } from "../../src/ops/cross_entropy.ts";
import { backward } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { assertClose, f64, finiteDiff, randn, rng, setupGpu } from "../_util.ts";
import { crossEntropyGradRef, crossEntropyRef, softmaxRef } from "../ref/cross_entropy.ts";

await setupGpu();
const FWD = { atol: 1e-5, rtol: 1e-5 };
const GRAD = { atol: 1e-7, rtol: 1e-4 };

/** Labels in [0, l) with about `ignoredFrac` of them set to -100. */
function labelsFor(n: number, l: number, seed: number, ignoredFrac = 0.3): Int32Array {
  const u = rng(seed);
  return Int32Array.from({ length: n }, () => u() < ignoredFrac ? -100 : Math.floor(u() * l));
}

/** Runs loss + backward with upstream gradient `g`; returns [loss, dlogits]. */
async function run(x: Float32Array, y: Int32Array, l: number, g = 1): Promise<[number, Float32Array]> {
  return await tidy(async () => {
    const tx = Tensor.from(x, [y.length, l], "f32", "logits");
    tx.requiresGrad = true;
    const loss = crossEntropy(tx, Tensor.from(y, [y.length], "i32", "labels"));
    backward(loss, Tensor.from([g], [1]));
    const [lv, gv] = await readAll([loss, tx.grad!]);
    return [lv[0], gv as Float32Array];
  });
}

for (const [n, l] of [[7, 13], [257, 129], [1000, 9]]) {
  Deno.test(`crossEntropy: loss and gradient match float64 at ${n}×${l}`, async () => {
    const x = randn(n * l, n + l, 3), y = labelsFor(n, l, n * l);
    const [loss, grad] = await run(x, y, l, 2.5);
    assertClose([loss], [crossEntropyRef(x, y, l)], FWD, "loss");
    assertClose(grad, crossEntropyGradRef(x, y, l, 2.5), GRAD, "dlogits");
  });
}

Deno.test("crossEntropy: backward equals central finite differences of the float64 loss", async () => {
  const n = 17, l = 5;
  const x = randn(n * l, 11, 2), y = labelsFor(n, l, 12);
  const R = 0.7;
  const [, grad] = await run(x, y, l, R);
  const fd = finiteDiff(([xx]) => R * crossEntropyRef(xx, y, l), [f64(x)], 0, 1e-5);
  assertClose(grad, fd, { atol: 1e-6, rtol: 1e-4 }, "dlogits vs FD");
});

Deno.test("crossEntropy: every label ignored gives loss 0 and gradient 0 (no NaN)", async () => {
  const n = 300, l = 9;
  const [loss, grad] = await run(randn(n * l, 5), new Int32Array(n).fill(-100), l);
  assertClose([loss], [0], { atol: 0, rtol: 0 }, "loss");
  assertClose(grad, new Float32Array(n * l), { atol: 0, rtol: 0 }, "dlogits");
});

Deno.test("crossEntropy: large logits (±80, ±1e4) do not overflow", async () => {
  for (const big of [80, 1e4]) {
    const n = 70, l = 9;
    const x = randn(n * l, 21).map((v) => (v > 0 ? big : -big) + v);
    const y = labelsFor(n, l, 22, 0.1);
    const [loss, grad] = await run(x, y, l);
    assertClose([loss], [crossEntropyRef(x, y, l)], { atol: 1e-5, rtol: 1e-6 }, `loss at ±${big}`);
    assertClose(grad, crossEntropyGradRef(x, y, l), { atol: 1e-7, rtol: 1e-4 }, `dlogits at ±${big}`);
  }
});

Deno.test("crossEntropy: a single counted row; custom ignore index", async () => {
  const l = 4;
  const x = Float32Array.from([1, 2, 3, 4, 0.5, -1, 2, 0]);
  const y = Int32Array.from([-100, 2]);
  const [loss, grad] = await run(x, y, l);
  assertClose([loss], [crossEntropyRef(x, y, l)], FWD, "loss");
  assertClose(grad, crossEntropyGradRef(x, y, l), GRAD, "dlogits");
  const val = await tidy(async () => {
    const t = crossEntropy(Tensor.from(x, [2, l]), Tensor.from([3, 1], [2], "i32"), 3);
    return (await t.read())[0];
  });
  assertClose([val], [crossEntropyRef(x, [3, 1], l, 3)], FWD, "ignore index 3");
});

Deno.test("crossEntropy: an out-of-range label gives a NaN loss, no gradient; checkLabels names it", async () => {
  const l = 3;
  const x = randn(4 * l, 31);
  const y = Int32Array.from([0, 7, -100, -2]);
  const [loss, grad] = await run(x, y, l);
  if (!Number.isNaN(loss)) throw new Error(`expected NaN loss, got ${loss}`);
  for (const r of [1, 2, 3]) {
    for (let c = 0; c < l; c++) if (grad[r * l + c] !== 0) throw new Error(`row ${r} got a gradient`);
  }
  let message = "";
  try {
    checkLabels(y, l);
  } catch (e) {
    message = (e as Error).message;
  }
  if (!message.includes("label 7 at position 1")) throw new Error(`checkLabels message: '${message}'`);
  checkLabels(Int32Array.from([0, 2, -100]), l);
});

Deno.test("softmax: rows match float64 at 257×129 and with large logits", async () => {
  const x = randn(257 * 129, 41, 4);
  const big = Float32Array.from([1e4, -1e4, 0, 80, 80, -80]);
  await tidy(async () => {
    const [p, q] = await readAll([softmax(Tensor.from(x, [257, 129])), softmax(Tensor.from(big, [2, 3]))]);
    assertClose(p, softmaxRef(x, 129), { atol: 1e-7, rtol: 1e-5 }, "softmax");
    assertClose(q, softmaxRef(big, 3), { atol: 1e-7, rtol: 1e-5 }, "softmax large");
  });
});
