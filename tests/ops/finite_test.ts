// kernels/finite.wgsl against its CPU reference at uneven sizes spanning several workgroups (and more
// elements than the grid-stride grid covers): counts per tensor in one readback, the sticky first-step flag.
import { assertEquals } from "../_assert.ts";
import { randn, setupGpu } from "../_util.ts";
import { readAll, Tensor } from "../../src/engine/tensor.ts";
import { countNonFinite, flagNonFinite, newNonFiniteFlag } from "../../src/ops/finite.ts";
import { countNonFiniteRef, firstNonFiniteStepRef } from "../ref/finite.ts";

await setupGpu();

Deno.test("finite: count_nonfinite counts NaN, +Inf and -Inf per tensor (not -0, not huge finite values)", async () => {
  const sizes = [1, 255, 257, 1000, 300_001];
  const hosts = sizes.map((n, k) => {
    const x = randn(n, k + 1);
    for (let i = k; i < n; i += 97 + k) x[i] = [NaN, Infinity, -Infinity][i % 3];
    if (n > 2) [x[n - 1], x[0]] = [-0, 3.4e38];
    return x;
  });
  const tensors = hosts.map((h, i) => Tensor.from(h, [h.length], "f32", `x${i}`));
  const counts = countNonFinite(tensors);
  const [got] = await readAll([counts]);
  assertEquals(Array.from(got), hosts.map(countNonFiniteRef));
  assertEquals(hosts.map(countNonFiniteRef).every((c, i) => i === 0 || c > 0), true);
  [...tensors, counts].forEach((t) => t.dispose());
});

Deno.test("finite: flag_nonfinite keeps the first non-finite step and nothing for finite values", async () => {
  const steps = [[1, 2], [0.5, 3], [NaN, 1], [Infinity, 0], [1, 1]].map((v) => Float32Array.from(v));
  const flag = newNonFiniteFlag();
  const clean = newNonFiniteFlag();
  steps.forEach((v, s) => {
    const t = Tensor.from(v, [2]);
    flagNonFinite(t, flag, s + 1);
    if (s < 2) flagNonFinite(t, clean, s + 1);
    t.dispose();
  });
  const [f, c] = await readAll([flag, clean]);
  assertEquals([f[0], c[0]], [firstNonFiniteStepRef(steps), 0]);
  assertEquals(f[0], 3);
  flag.dispose();
  clean.dispose();
});
