// Autocast (src/ops/autocast.ts): under it every matrix product reads its operands rounded to fp16 (ties to
// even, ±Inf on overflow) and accumulates in fp32. Checked against a float64 CPU reference computed on
// inputs rounded by tests/ref/f16.ts, at uneven shapes, all four layouts, forward and backward, on each
// matmul path (texture: rgba16float staging; generic and shared: operands rounded by round_f16), with the
// dispatch trace proving which kernels ran.
import { matmul, type MatmulPath, matmulPathSettings, setMatmulPath } from "../../src/ops/matmul.ts";
import {
  autocastEnabled,
  Fp16UnavailableError,
  requireShaderF16,
  roundToF16,
  setAutocast,
  withAutocast,
} from "../../src/ops/autocast.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { backward } from "../../src/engine/tape.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { assertClose, randn, randu, setupGpu } from "../_util.ts";
import { refMatmul, refMatmulAbs, refMatmulGrads, type RefMatmulSpec } from "../ref/matmul.ts";
import { roundF16, roundF16Array } from "../ref/f16.ts";
import { tol } from "./_matmul_check.ts";

await setupGpu();

// Same bound as tests/ops/matmul_test.ts (tol): on exactly rounded inputs the only error left is the
// float32 accumulation, |err| ≤ (n + 2)·2⁻²⁴·max Σ|terms|.

/** Largest |a − b| (how far fp32 results are from fp16-input ones: must exceed the tolerance). */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test("f16 reference: ties to even, the overflow threshold, subnormals", () => {
  assertEquals(roundF16(1 + 2 ** -11), 1); // tie → even (1.0)
  assertEquals(roundF16(1 + 3 * 2 ** -11), 1 + 2 ** -9); // tie → even (1 + 2·2⁻¹⁰)
  assertEquals(roundF16(1 + 2 ** -11 + 2 ** -20), 1 + 2 ** -10); // past the tie
  assertEquals(roundF16(65504), 65504);
  assertEquals(roundF16(65519), 65504);
  assertEquals(roundF16(65520), Infinity);
  assertEquals(roundF16(-1e6), -Infinity);
  assertEquals(roundF16(2 ** -25), 0); // tie between 0 and the smallest subnormal → 0
  assertEquals(roundF16(3 * 2 ** -25), 2 ** -23); // tie → even subnormal
  assertEquals(roundF16(1e-5), 168 * 2 ** -24); // 1e-5 / 2⁻²⁴ = 167.77
});

Deno.test("roundToF16 (round_f16) matches the round-to-nearest-even reference bit for bit", async () => {
  const n = 5003;
  const x = new Float32Array(n);
  const u = randu(2 * n, 7, 0, 1);
  for (let i = 0; i < n; i++) x[i] = (u[i] < 0.5 ? -1 : 1) * 10 ** (u[n + i] * 14 - 9); // 1e-9 … 1e5
  // Exact ties, the overflow edge, subnormals, NaN and ±Inf.
  x.set([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519, 65520, -70000, 2 ** -25, 3 * 2 ** -25, NaN, Infinity, -0]);
  await tidy(async () => {
    const [y] = await readAll([roundToF16(Tensor.from(x, [n]))]);
    const want = roundF16Array(x);
    let bad = 0;
    for (let i = 0; i < n; i++) {
      if (!(Object.is(y[i], want[i]) || (y[i] === 0 && want[i] === 0))) bad++;
    }
    assertEquals(bad, 0, `${bad} of ${n} values differ from round-to-nearest-even`);
  });
});

interface Case extends RefMatmulSpec {
  batchDims?: number[];
  bias?: boolean;
}

/**
 * matmul under autocast, forward and backward, against the float64 product of fp16-rounded operands
 * (the backward products round the incoming gradient too; the bias gradient is an fp32 row sum).
 */
async function check(c: Case, seed: number): Promise<void> {
  const { M, N, K } = c;
  const batchDims = c.batchDims ?? [];
  const batch = batchDims.reduce((p, d) => p * d, 1);
  const spec: RefMatmulSpec = { ...c, batch };
  const a = randn(batch * M * K, seed), b = randn((c.sharedB ? 1 : batch) * K * N, seed + 1);
  const bias = c.bias ? randn(N, seed + 2) : null;
  const r = randn(batch * M * N, seed + 3);
  const ra = roundF16Array(a), rb = roundF16Array(b), rr = roundF16Array(r);
  const what = `${c.transA ? "Aᵀ" : "A"}·${c.transB ? "Bᵀ" : "B"} [${batchDims}] ${M}×${K}·${K}×${N}` +
    `${c.sharedB ? " shared B" : ""}${c.bias ? " +bias" : ""}`;
  await tidy(async () => {
    const ta = Tensor.from(a, [...batchDims, ...(c.transA ? [K, M] : [M, K])], "f32", "A");
    const tb = Tensor.from(b, [...(c.sharedB ? [] : batchDims), ...(c.transB ? [N, K] : [K, N])], "f32", "B");
    const tbias = bias ? Tensor.from(bias, [N], "f32", "bias") : undefined;
    ta.requiresGrad = tb.requiresGrad = true;
    if (tbias) tbias.requiresGrad = true;
    const out = withAutocast(() => matmul(ta, tb, { transA: c.transA, transB: c.transB, bias: tbias }));
    // The backward runs outside the autocast scope: the products recorded under it still read fp16.
    backward(out, Tensor.from(r, out.shape));
    const [y, da, db, dbias] = await readAll([out, ta.grad!, tb.grad!, ...(tbias ? [tbias.grad!] : [])]);
    const want = refMatmul(ra, rb, spec, bias);
    const tC = tol(K, refMatmulAbs(ra, rb, spec, bias));
    assertClose(y, want, tC, `${what}: C`);
    // Not the fp32 product: the fp16 rounding is visible (so this test fails if inputs stay fp32).
    assert(maxDiff(refMatmul(a, b, spec, bias), want) > 4 * tC.atol, `${what}: rounding not visible`);
    const g = refMatmulGrads(ra, rb, rr, spec);
    assertClose(da, g.da, tol(N, g.daAbs), `${what}: dA`);
    assertClose(db, g.db, tol(c.sharedB ? batch * M : M, g.dbAbs), `${what}: dB`);
    if (tbias) {
      const g32 = refMatmulGrads(a, b, r, spec);
      assertClose(dbias, g32.dbias, tol(batch * M, g32.dbiasAbs), `${what}: dbias`);
    }
  });
}

const LAYOUTS = [[false, false], [false, true], [true, false], [true, true]] as const;

/** The GEMM (and staging) kernels each path must run under autocast. */
const WANT: Record<string, RegExp> = {
  texture: /^matmul\.mm_tex4?_f16$/,
  generic: /^matmul\.mm_generic$/,
  shared: /^matmul\.mm_shared/,
};

async function onPath(path: MatmulPath, fn: () => Promise<void>): Promise<string[]> {
  const before = matmulPathSettings();
  setMatmulPath(path);
  try {
    const { labels } = await traceDispatches(fn);
    const gemms = labels.filter((l) => /^matmul\.mm_/.test(l));
    assert(gemms.length > 0, "no GEMM ran");
    assertEquals(gemms.filter((l) => !WANT[path].test(l)), [], `path ${path} ran other GEMM kernels`);
    if (path === "texture") {
      // fp16 staging always packs (a buffer-to-texture copy cannot convert) and never the fp32 pack.
      assert(labels.includes("matmul.pack_tex_f16"), "the fp16 pack kernel did not run");
      assert(!labels.includes("matmul.pack_tex"), "an fp32 staging pack ran");
      assert(!labels.includes("autocast.round_f16"), "the texture path rounded buffer copies");
    } else {
      assert(labels.includes("autocast.round_f16"), `path ${path}: operands were not rounded`);
    }
    return labels;
  } finally {
    setMatmulPath(before.path, before.textureLimit, before.textureBytes);
  }
}

for (const path of ["texture", "generic", "shared"] as MatmulPath[]) {
  Deno.test(`autocast matmul[${path}]: all layouts ± bias at 37×45·45×29 and 33×70·70×52 (fwd, bwd)`, async () => {
    await onPath(path, async () => {
      let seed = 100;
      for (const [transA, transB] of LAYOUTS) {
        await check({ M: 37, N: 29, K: 45, transA, transB, bias: true }, seed += 10); // N % 4 ≠ 0: mm_tex
        await check({ M: 33, N: 52, K: 70, transA, transB }, seed += 10); // N % 4 = 0: mm_tex4
      }
    });
  });

  Deno.test(`autocast matmul[${path}]: batched 3×2×19×23·23×13, batched and shared B, all layouts`, async () => {
    await onPath(path, async () => {
      let seed = 700;
      for (const [transA, transB] of LAYOUTS) {
        for (const sharedB of [false, true]) {
          await check({ batchDims: [3, 2], M: 19, N: 13, K: 23, transA, transB, sharedB }, seed += 10);
        }
      }
    });
  });
}

Deno.test("autocast matmul: a 64-aligned product (fp32 staging would copy) is packed to fp16 too", async () => {
  const labels = await onPath(
    "texture",
    () => check({ M: 64, N: 128, K: 192, transB: true, bias: true }, 900),
  );
  assert(labels.includes("matmul.mm_tex4_f16"), labels.join());
});

Deno.test("autocast matmul: an operand past fp16's range overflows to Inf on every path (as float16 does)", async () => {
  for (const path of ["texture", "generic", "shared"] as MatmulPath[]) {
    const before = matmulPathSettings();
    setMatmulPath(path);
    try {
      await tidy(async () => {
        const a = Tensor.from(Float32Array.from({ length: 5 * 7 }, (_, i) => (i === 8 ? 7e4 : 0.5)), [5, 7]);
        const b = Tensor.from(new Float32Array(7 * 6).fill(0.25), [7, 6]);
        const [fp16, fp32] = await readAll([withAutocast(() => matmul(a, b)), matmul(a, b)]);
        // Row 1 holds 70000 (> 65504): Inf under autocast, 70000·0.25 + 6·0.125 in fp32.
        for (let n = 0; n < 6; n++) {
          assertEquals(fp16[6 + n], Infinity, `${path}: row 1`);
          assertEquals(fp32[6 + n], 17500.75, `${path}: fp32 row 1`);
          assertEquals(fp16[n], 0.875, `${path}: row 0`);
        }
      });
    } finally {
      setMatmulPath(before.path, before.textureLimit, before.textureBytes);
    }
  }
});

Deno.test("autocast: withAutocast restores the previous setting (also after a throw and for async work)", async () => {
  assertEquals(autocastEnabled(), false);
  withAutocast(() => assertEquals(autocastEnabled(), true));
  assertEquals(autocastEnabled(), false);
  assertThrows(() =>
    withAutocast(() => {
      throw new Error("inner");
    })
  );
  assertEquals(autocastEnabled(), false);
  const p = withAutocast(async () => {
    await new Promise((r) => setTimeout(r, 1));
    return autocastEnabled();
  });
  assertEquals(await p, true);
  assertEquals(autocastEnabled(), false);
  withAutocast(() => assertEquals(autocastEnabled(), false), false);
  setAutocast(true);
  withAutocast(() => assertEquals(autocastEnabled(), false), false);
  assertEquals(autocastEnabled(), true);
  setAutocast(false);
});

Deno.test("autocast: without shader-f16 the request is one clear error naming the adapter", () => {
  const none = { has: (_: string) => false };
  const e = assertThrows(() => requireShaderF16(none, "FakeGPU 9000"), Fp16UnavailableError);
  assertEquals(e.message, "--fp16 needs a WebGPU adapter with the shader-f16 feature; FakeGPU 9000 has none");
  // This device (lavapipe) has the feature: no error, and the message would name its description.
  assert(gpu().device.features.has("shader-f16"), "the test device lacks shader-f16");
  requireShaderF16();
  const named = assertThrows(() => requireShaderF16(none), Fp16UnavailableError);
  assert(named.message.includes(gpu().describe().description), named.message);
});
