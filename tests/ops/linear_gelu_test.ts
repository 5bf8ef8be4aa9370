// linearGelu (bias + GELU in the matmul epilogue) against gelu(linear(...)), itself checked against CPU
// references and finite differences in matmul_test.ts and gelu_test.ts: the same values and gradients bit
// for bit, on every path (fused where mm_tex4 runs in one K range, the separate GELU kernel elsewhere).
import {
  linear,
  linearGelu,
  type MatmulPath,
  matmulPathSettings,
  setMatmulPath,
} from "../../src/ops/matmul.ts";
import { gelu } from "../../src/ops/gelu.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { backward } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { randn, setupGpu } from "../_util.ts";

await setupGpu();

interface Case {
  lead: number[];
  K: number;
  N: number;
  bias: boolean;
}

/** x, weight and (when the case has one) bias of a case, from `seed`. */
function operands(c: Case, seed: number) {
  const rows = c.lead.reduce((a, b) => a * b, 1);
  const x = Tensor.from(randn(rows * c.K, seed, 1.5), [...c.lead, c.K], "f32", "x");
  const w = Tensor.from(randn(c.N * c.K, seed + 1, 0.5), [c.N, c.K], "f32", "w");
  const b = c.bias ? Tensor.from(randn(c.N, seed + 2, 0.5), [c.N], "f32", "b") : null;
  return { x, w, b };
}

/** y, dx, dw, db and the dispatch labels of one forward + backward, fused or not. */
async function run(c: Case, fused: boolean, seed: number) {
  return await traceDispatches(() =>
    tidy(async () => {
      const { x, w, b } = operands(c, seed);
      for (const t of [x, w, b]) if (t) t.requiresGrad = true;
      const y = fused ? linearGelu(x, w, b) : gelu(linear(x, w, b));
      const out = await y.readF32();
      backward(y, Tensor.from(randn(y.size, seed + 3), y.shape, "f32", "g"));
      const leaves = [x, w, b].filter((t): t is Tensor => t !== null);
      const grads = (await readAll(leaves.map((t) => t.grad!))) as Float32Array[];
      for (const t of leaves) t.grad!.dispose();
      return { out, grads };
    })
  );
}

async function onPath<T>(path: MatmulPath, textureLimit: number, fn: () => Promise<T>): Promise<T> {
  const before = matmulPathSettings();
  setMatmulPath(path, textureLimit);
  try {
    return await fn();
  } finally {
    setMatmulPath(before.path, before.textureLimit, before.textureBytes);
  }
}

const CASES: [string, MatmulPath, number, Case, boolean][] = [
  // name, path, texture limit, shape, whether the epilogue fuses the GELU
  ["texture, N % 4 == 0 (mm_tex4)", "texture", 0, { lead: [3, 37], K: 20, N: 36, bias: true }, true],
  ["texture, 16×12 tiles, several workgroups", "texture", 0, { lead: [70], K: 33, N: 196, bias: true }, true],
  ["texture, no bias", "texture", 0, { lead: [2, 9], K: 16, N: 64, bias: false }, true],
  [
    "texture, N % 4 != 0 (mm_tex: separate GELU)",
    "texture",
    0,
    { lead: [5, 7], K: 12, N: 37, bias: true },
    false,
  ],
  [
    "texture, K split into ranges (separate GELU)",
    "texture",
    96,
    { lead: [9], K: 520, N: 40, bias: true },
    false,
  ],
  ["generic path (separate GELU)", "generic", 0, { lead: [4, 5], K: 19, N: 24, bias: true }, false],
  ["shared path (separate GELU)", "shared", 0, { lead: [33], K: 17, N: 68, bias: true }, false],
];

for (const [name, path, limit, c, fuses] of CASES) {
  Deno.test(`linearGelu: equals gelu(linear()) forward and backward — ${name}`, async () => {
    const ref = await onPath(path, limit, () => run(c, false, 11));
    const got = await onPath(path, limit, () => run(c, true, 11));
    const max = got.result.out.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assertEquals(Array.from(got.result.out), Array.from(ref.result.out), `y (bit for bit; max |y| ${max})`);
    ["dx", "dw", "db"].slice(0, got.result.grads.length).forEach((n, i) => {
      assertEquals(Array.from(got.result.grads[i]), Array.from(ref.result.grads[i]), `${n} (bit for bit)`);
    });
    const labels = got.labels;
    assertEquals(labels.some((l) => l.endsWith("_gelu")), fuses, labels.join());
    assertEquals(labels.includes("gelu.forward"), !fuses, labels.join());
    assert(labels.includes("gelu.backward"), labels.join());
  });
}

/** y and the dispatch labels of a forward nobody differentiates (inference), fused or not. */
async function runInference(c: Case, fused: boolean, seed: number) {
  return await traceDispatches(() =>
    tidy(async () => {
      const { x, w, b } = operands(c, seed);
      const y = fused ? linearGelu(x, w, b) : gelu(linear(x, w, b));
      assertEquals(y.node, null, "an inference output records no tape node");
      return await y.readF32();
    })
  );
}

for (const [name, path, limit, c, fuses] of CASES) {
  Deno.test(`linearGelu: without gradients the epilogue stores GELU only, equal to gelu(linear()) — ${name}`, async () => {
    const ref = await onPath(path, limit, () => runInference(c, false, 5));
    const got = await onPath(path, limit, () => runInference(c, true, 5));
    assertEquals(Array.from(got.result), Array.from(ref.result), "y (bit for bit)");
    const labels = got.labels;
    // Fused: one product whose epilogue writes GELU in place of C (act = 2), and no GELU pass.
    assertEquals(labels.some((l) => l.endsWith("_gelu_only")), fuses, labels.join());
    assert(!labels.some((l) => l.endsWith("_gelu")), labels.join());
    assertEquals(labels.includes("gelu.forward"), !fuses, labels.join());
  });
}

Deno.test("linearGelu: bad shapes are one-line errors naming the op", () => {
  tidy(() => {
    const x = Tensor.from(new Float32Array(6), [2, 3]);
    assertThrows(
      () => linearGelu(x, Tensor.from(new Float32Array(8), [2, 4])),
      RangeError,
      "linearGelu: input",
    );
    assertThrows(
      () => linearGelu(x, Tensor.from(new Float32Array(6), [2, 3]), Tensor.from(new Float32Array(3), [3])),
      RangeError,
      "linearGelu: bias",
    );
  });
});
