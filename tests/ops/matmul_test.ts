import {
  linear,
  linearGelu,
  matmul,
  type MatmulPath,
  matmulPathSettings,
  setMatmulPath,
  setTextureSubgroups,
  textureTileColumns,
  textureUsesSubgroups,
} from "../../src/ops/matmul.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { fallbackCounts, traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { Tensor, tidy } from "../../src/engine/tensor.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { randn, setupGpu } from "../_util.ts";
import { check, checkLinear, LAYOUTS } from "./_matmul_check.ts";
import { backward } from "../../src/engine/tape.ts";

await setupGpu();

/**
 * Runs `fn` with a matmul path, restores the previous settings afterwards (tests never depend on their
 * order), and asserts from the dispatch trace that the requested kernels — and only those — ran.
 */
async function onPath(
  path: MatmulPath,
  fn: () => Promise<void>,
  textureLimit = 0,
  textureBytes = 0,
  subgroups: "auto" | "off" = "auto",
): Promise<string[]> {
  const before = matmulPathSettings();
  const fallbacks = fallbackCounts().matmul ?? 0;
  setMatmulPath(path, textureLimit, textureBytes);
  setTextureSubgroups(subgroups);
  try {
    const { labels } = await traceDispatches(fn);
    const gemms = labels.filter((l) => /^matmul\.mm_/.test(l));
    assert(gemms.length > 0, "no GEMM ran");
    const want = path === "generic" ? /^matmul\.mm_generic$/ : /^matmul\.mm_(tex4?|sg4)(_gelu)?$/;
    const other = gemms.filter((l) => !want.test(l));
    assertEquals(other, [], `path ${path} ran other GEMM kernels`);
    if (path === "texture-pack") assert(labels.includes("matmul.pack_tex"), "the pack kernel did not run");
    assertEquals(fallbackCounts().matmul ?? 0, fallbacks, "a silent fallback to the generic kernel");
    return labels;
  } finally {
    setMatmulPath(before.path, before.textureLimit, before.textureBytes);
    setTextureSubgroups("auto");
  }
}

// Every product test runs on both kernels: the texture fast path (default) and the generic buffer kernel.
for (const path of ["texture", "generic"] as MatmulPath[]) {
  Deno.test(`matmul[${path}]: all layouts ± bias at 7×13·13×5 and 257×129·129×65 (fwd, bwd, FD)`, async () => {
    await onPath(path, async () => {
      let seed = 10;
      for (const [transA, transB] of LAYOUTS) {
        for (const bias of [false, true]) {
          await check({ M: 7, N: 5, K: 13, transA, transB, bias }, seed += 10);
          await check({ M: 257, N: 65, K: 129, transA, transB, bias }, seed += 10, 3);
        }
      }
    });
  });

  Deno.test(`matmul[${path}]: batched 3×5×17×33 · 33×9, batched and shared B, all layouts`, async () => {
    await onPath(path, async () => {
      let seed = 500;
      for (const [transA, transB] of LAYOUTS) {
        for (const sharedB of [false, true]) {
          await check(
            { batchDims: [3, 5], M: 17, N: 9, K: 33, transA, transB, sharedB, bias: true },
            seed += 10,
          );
        }
      }
    });
  });

  Deno.test(`matmul[${path}]: K = 3072 stays within the K·eps bound`, async () => {
    await onPath(path, async () => {
      await check({ M: 33, N: 17, K: 3072, bias: true }, 900, 0);
      await check({ M: 33, N: 17, K: 3072, transB: true }, 910, 0);
    });
  });
}

Deno.test("matmul[texture]: 64-aligned shapes (staged by copyBufferToTexture) and the same via pack", async () => {
  for (const path of ["texture", "texture-pack"] as MatmulPath[]) {
    await onPath(path, async () => {
      let seed = 1000;
      for (const [transA, transB] of LAYOUTS) {
        await check({ M: 64, N: 192, K: 128, transA, transB, bias: true }, seed += 10, 2);
        await check({ batchDims: [3], M: 64, N: 128, K: 64, transA, transB, sharedB: true }, seed += 10, 2);
        await check({ batchDims: [2], M: 128, N: 64, K: 64, transA, transB }, seed += 10, 2);
      }
    });
  }
});

for (const subgroups of ["off", "auto"] as const) {
  const vec4 = subgroups === "off" ? "mm_tex4" : "mm_sg4";
  Deno.test(`matmul[texture]: vec4 output stores (N % 4 == 0, ${vec4}) at uneven M, K and partial tiles`, async () => {
    // N = 4, 8: one invocation with 1 or 2 of its column groups in range; N = 100: a second workgroup
    // with one group in range (mm_sg4: lanes past N that still take part in the broadcasts); N = 36: a
    // partial workgroup. M and K are odd (partial row tiles, K padding).
    // Backward products have N = K or M (not multiples of 4) and take the scalar-store kernel.
    const labels = await onPath(
      "texture",
      async () => {
        let seed = 1500;
        for (const [transA, transB] of LAYOUTS) {
          await check({ M: 37, N: 4, K: 23, transA, transB, bias: true }, seed += 10, 2);
          await check({ M: 5, N: 8, K: 3, transA, transB }, seed += 10, 2);
          await check({ M: 33, N: 100, K: 19, transA, transB, bias: true }, seed += 10, 2);
          await check({ batchDims: [3], M: 17, N: 36, K: 9, transA, transB, bias: true }, seed += 10, 2);
          await check({ batchDims: [2], M: 21, N: 36, K: 11, transA, transB, sharedB: true }, seed += 10, 2);
        }
      },
      0,
      0,
      subgroups,
    );
    assert(labels.includes(`matmul.${vec4}`) && labels.includes("matmul.mm_tex"), "both store variants ran");
    assert(!labels.includes(`matmul.${subgroups === "off" ? "mm_sg4" : "mm_tex4"}`), labels.join());
  });
}

Deno.test("matmul[texture]: mm_sg4 (A through subgroup broadcasts) equals mm_tex4 bit for bit", async () => {
  // This machine's adapter (lavapipe, 8-lane subgroups) runs the subgroup kernel by default.
  assert(
    textureUsesSubgroups(),
    `no subgroup matmul: directive ${gpu().subgroupWgsl}, subgroups of ${gpu().adapterInfo.subgroupMinSize}`,
  );
  // Uneven M (row tiles of 16 cut short), N with partial 64-column workgroups and lanes past N, K with
  // padding, batched, all four layouts; then linearGelu forward + backward: the fused GELU epilogue, dX and
  // the batch-summed weight gradient.
  const shapes = [[[], 37, 23, 100], [[3], 18, 70, 132], [[], 130, 64, 64]] as const;
  const products = async () => {
    const out: Float32Array[] = [];
    let seed = 3000;
    for (const [transA, transB] of LAYOUTS) {
      for (const [batch, M, K, N] of shapes) {
        await tidy(async () => {
          const rows = batch.reduce((p, d) => p * d, 1);
          const a = Tensor.from(randn(rows * M * K, seed++), [...batch, ...(transA ? [K, M] : [M, K])]);
          const b = Tensor.from(randn(K * N, seed++), transB ? [N, K] : [K, N]);
          const bias = Tensor.from(randn(N, seed++), [N]);
          out.push(await matmul(a, b, { transA, transB, bias }).readF32());
        });
      }
    }
    await tidy(async () => {
      const x = Tensor.from(randn(3 * 21 * 44, seed++), [3, 21, 44]);
      const w = Tensor.from(randn(72 * 44, seed++), [72, 44]);
      const b = Tensor.from(randn(72, seed++), [72]);
      for (const t of [x, w, b]) t.requiresGrad = true;
      const y = linearGelu(x, w, b);
      out.push(await y.readF32());
      backward(y, Tensor.from(randn(y.size, seed++), y.shape));
      for (const t of [x, w, b]) out.push(await t.grad!.readF32());
    });
    return out;
  };
  let sg: Float32Array[] = [], tex: Float32Array[] = [];
  const sgLabels = await onPath("texture", async () => void (sg = await products()), 0, 0, "auto");
  const texLabels = await onPath("texture", async () => void (tex = await products()), 0, 0, "off");
  assert(sgLabels.includes("matmul.mm_sg4_gelu") && !sgLabels.includes("matmul.mm_tex4"), sgLabels.join());
  assert(texLabels.includes("matmul.mm_tex4_gelu") && !texLabels.includes("matmul.mm_sg4"), texLabels.join());
  assertEquals(sg.length, tex.length);
  sg.forEach((v, i) => assertEquals(Array.from(v), Array.from(tex[i]), `output ${i}`));
});

Deno.test("matmul[texture]: both tile widths (16×8 and 16×12 columns per invocation) at uneven N", async () => {
  // The host picks 16×8 tiles (NG = 2, 64 columns per workgroup) where 96-column workgroups would waste
  // more than ~10% of the columns, else 16×12 (NG = 3). These N take each one with partial workgroups and
  // partial column groups, with vec4 (N % 4 == 0) and scalar stores.
  const cases = [[8, 8], [100, 8], [128, 8], [198, 8], [96, 12], [130, 12], [260, 12], [262, 12]] as const;
  for (const [N, cols] of cases) assertEquals(textureTileColumns(N), cols, `tile columns for N = ${N}`);
  assertEquals([textureTileColumns(512), textureTileColumns(768), textureTileColumns(3072)], [8, 12, 12]);
  await onPath("texture", async () => {
    let seed = 1700;
    for (const [transA, transB] of LAYOUTS) {
      for (const [N] of cases) {
        await check({ M: 35, N, K: 21, transA, transB, bias: N % 2 === 0 }, seed += 10, 2);
      }
      await check({ batchDims: [2], M: 19, N: 130, K: 13, transA, transB, sharedB: true }, seed += 10, 2);
    }
  });
});

Deno.test("matmul[texture]: chunking over batch, rows and columns when textures are small", async () => {
  // A 96-texel limit forces several chunks per product; a 64 KiB texture budget forces evictions.
  await onPath(
    "texture",
    async () => {
      let seed = 700;
      for (const [transA, transB] of LAYOUTS) {
        await check({ batchDims: [3, 5], M: 17, N: 9, K: 33, transA, transB, bias: true }, seed += 10, 2);
        await check({ batchDims: [3], M: 40, N: 20, K: 7, transA, transB, sharedB: true }, seed += 10, 2);
        await check({ M: 257, N: 200, K: 20, transA, transB, bias: true }, seed += 10, 2);
      }
      // K longer than a texture holds: K ranges accumulate (and batch groups / ranges of a summed dB).
      for (const [transA, transB] of LAYOUTS) {
        await check({ M: 9, N: 11, K: 400, transA, transB, bias: true }, seed += 10, 2);
        await check({ batchDims: [3], M: 40, N: 20, K: 7, transA, transB, sharedB: true }, seed += 10, 2);
        await check({ batchDims: [2], M: 150, N: 20, K: 7, transA, transB, sharedB: true }, seed += 10, 2);
      }
    },
    96,
    64 * 1024,
  );
});

Deno.test("linear: matches nn.Linear (x·Wᵀ + b) forward and backward, with and without bias", async () => {
  await checkLinear([2, 7], 33, 19, 1);
});

Deno.test("matmul: shape errors are reported", () => {
  tidy(() => {
    const a = Tensor.empty([4, 5]), b = Tensor.empty([6, 3]);
    assertThrows(() => matmul(a, b), RangeError, "inner dimensions");
    assertThrows(() => matmul(Tensor.empty([2, 4, 5]), Tensor.empty([3, 5, 3])), RangeError, "batch");
    assertThrows(() => matmul(a, Tensor.empty([5, 3]), { bias: Tensor.empty([4]) }), RangeError, "bias");
    assertThrows(() => linear(a, Tensor.empty([3, 4])), RangeError, "must end in");
    assertThrows(() => matmul(a, Tensor.empty([5, 3], "i32")), TypeError, "not f32");
  });
});
