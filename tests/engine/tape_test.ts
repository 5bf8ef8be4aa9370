import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { add, mul, scale } from "../../src/ops/elementwise.ts";
import { backward, noGrad } from "../../src/engine/tape.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { Tensor, tidy } from "../../src/engine/tensor.ts";
import { assertClose, setupGpu } from "../_util.ts";

await setupGpu();

function leaf(values: number[]): Tensor {
  const t = Tensor.from(values, [values.length]).keep();
  t.requiresGrad = true;
  return t;
}

Deno.test("tape: a diamond graph sums both paths; leaf grads accumulate across backward calls", async () => {
  const x = leaf([1, 2, 3]);
  const y = leaf([4, 5, 6]);
  const run = () =>
    tidy(() => {
      // z = (x*y + 2x) * x  -> dz/dx = 2xy + 4x... evaluate: d/dx[(xy + 2x) x] = 2xy + 4x; dz/dy = x^2
      const a = mul(x, y);
      const b = scale(x, 2);
      const z = mul(add(a, b), x);
      backward(z, Tensor.from([1, 1, 1], [3]));
    });
  run();
  const gx = [1, 2, 3].map((v, i) => 2 * v * [4, 5, 6][i] + 4 * v);
  const gy = [1, 4, 9];
  assertClose(await x.grad!.read(), gx, { atol: 1e-6, rtol: 0 }, "dx");
  assertClose(await y.grad!.read(), gy, { atol: 1e-6, rtol: 0 }, "dy");
  run();
  assertClose(await x.grad!.read(), gx.map((g) => 2 * g), { atol: 1e-5, rtol: 0 }, "dx accumulated");
  x.dispose();
  y.dispose();
});

Deno.test("tape: noGrad records nothing; backward on an unrecorded tensor is an error", () => {
  const x = leaf([1, 2]);
  tidy(() => {
    const z = noGrad(() => scale(x, 3));
    assert(z.node === null && !z.requiresGrad);
    assertThrows(() => backward(z), Error, "not produced by recorded ops");
    const s = scale(x, 3);
    assertThrows(() => backward(s), RangeError, "not a scalar");
  });
  x.dispose();
});

Deno.test("tape: backward frees the graph; memory in use is flat over repeated steps", () => {
  const x = leaf(Array.from({ length: 1000 }, (_, i) => i / 1000));
  const step = () =>
    tidy(() => {
      let h = x;
      for (let i = 0; i < 5; i++) h = add(mul(h, h), scale(h, 0.5));
      backward(h, Tensor.from(new Float32Array(1000).fill(1), [1000]));
    });
  step();
  step(); // the second step adds into an existing .grad: its peak is the steady state
  const base = gpu().memory();
  for (let i = 0; i < 50; i++) step();
  const after = gpu().memory();
  assertEquals(after.inUseBytes, base.inUseBytes);
  assertEquals(after.allocatedBytes, base.allocatedBytes);
  x.dispose();
});
