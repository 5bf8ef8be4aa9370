import {
  matmul,
  type MatmulPath,
  matmulPathSettings,
  setMatmulPath,
  textureUsesSubgroups,
} from "../../src/ops/matmul.ts";
import { autoUsesShared, isCpuAdapter, SHARED_TILE } from "../../src/ops/matmul_shared.ts";
import { fallbackCounts, traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { startProfiling, stopProfiling } from "../../src/engine/profiler.ts";
import { runParity } from "../../src/model/parity.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { Tensor, tidy } from "../../src/engine/tensor.ts";
import { assert, assertEquals } from "../_assert.ts";
import { randn, setupGpu } from "../_util.ts";
import { check, checkLinear, LAYOUTS } from "./_matmul_check.ts";

await setupGpu();

/**
 * Runs `fn` on a forced matmul path, restores the previous settings afterwards, and returns the labels of
 * the GEMM kernels that ran (asserting there was no silent fallback).
 */
async function onPath(path: MatmulPath, fn: () => Promise<void>): Promise<string[]> {
  const before = matmulPathSettings();
  const fallbacks = fallbackCounts().matmul ?? 0;
  setMatmulPath(path);
  try {
    const { labels } = await traceDispatches(fn);
    assertEquals(fallbackCounts().matmul ?? 0, fallbacks, "a silent fallback to the generic kernel");
    return labels.filter((l) => /^matmul\.mm_/.test(l));
  } finally {
    setMatmulPath(before.path, before.textureLimit, before.textureBytes);
  }
}

/** Runs `fn` on the forced shared path and asserts that mm_shared, and no other GEMM kernel, ran. */
async function onShared(fn: () => Promise<void>): Promise<void> {
  const gemms = await onPath("shared", fn);
  assert(gemms.length > 0, "no GEMM ran");
  const other = gemms.filter((l) => !/^matmul\.mm_shared4?$/.test(l));
  assertEquals(other, [], "the shared path ran other GEMM kernels");
}

Deno.test("matmul[shared]: all layouts ± bias at 67×131·131×45 × batch 3 (several 64×64 tiles, K % 16 ≠ 0)", async () => {
  // M = 67 and N = 45 leave partial tiles (2×1 workgroups per entry), K = 131 a partial K tile of 3; the
  // backward products (dA: K = 45, dB: K = 67, outputs 67×131 / 131×45) have their own partial tiles.
  await onShared(async () => {
    let seed = 10;
    for (const [transA, transB] of LAYOUTS) {
      for (const bias of [false, true]) {
        await check({ batchDims: [3], M: 67, N: 45, K: 131, transA, transB, bias }, seed += 10);
      }
    }
  });
});

Deno.test("matmul[shared]: shared B (folded batch; batch-summed dB = the reduce mode), all layouts", async () => {
  await onShared(async () => {
    let seed = 200;
    for (const [transA, transB] of LAYOUTS) {
      await check(
        { batchDims: [3], M: 67, N: 45, K: 131, transA, transB, sharedB: true, bias: true },
        seed += 10,
      );
      await check({ batchDims: [2, 3], M: 9, N: 70, K: 17, transA, transB, sharedB: true }, seed += 10);
    }
  });
});

Deno.test("matmul[shared]: 16-byte loads and stores (rows, strides multiples of 4) and mixed alignment", async () => {
  // 68×132·132×48: A (both layouts), B (K, N) and C take 16-byte loads / stores; 68×131·131×48: only A
  // (K, M), B (K, N) and C do; 67×132·132×46: C is stored as scalars. Backward products mix them too.
  const gemms = await onPath("shared", async () => {
    let seed = 400;
    for (const [transA, transB] of LAYOUTS) {
      await check({ batchDims: [2], M: 68, N: 48, K: 132, transA, transB, bias: true }, seed += 10);
      await check({ batchDims: [2], M: 68, N: 48, K: 131, transA, transB }, seed += 10);
      await check({ M: 67, N: 46, K: 132, transA, transB, bias: true }, seed += 10);
      await check({ batchDims: [3], M: 64, N: 128, K: 64, transA, transB, sharedB: true }, seed += 10, 2);
    }
  });
  assertEquals(
    [...new Set(gemms)].sort(),
    ["matmul.mm_shared", "matmul.mm_shared4"],
    "both store variants ran",
  );
});

Deno.test("matmul[shared]: tiny and thin shapes (1×1·1×1, K = 1, K < 16, one row or column)", async () => {
  await onShared(async () => {
    let seed = 600;
    for (const [transA, transB] of LAYOUTS) {
      await check({ M: 1, N: 1, K: 1, transA, transB, bias: true }, seed += 10, 2);
      await check({ batchDims: [2], M: 5, N: 3, K: 1, transA, transB }, seed += 10, 2);
      await check({ M: 7, N: 5, K: 13, transA, transB, bias: true }, seed += 10, 2);
      await check({ M: 1, N: 130, K: 20, transA, transB }, seed += 10, 2);
      await check({ M: 130, N: 1, K: 20, transA, transB, bias: true }, seed += 10, 2);
    }
  });
});

Deno.test("matmul[shared]: K = 3072 stays within the K·eps bound", async () => {
  await onShared(async () => {
    await check({ M: 33, N: 17, K: 3072, bias: true }, 900, 0);
    await check({ M: 33, N: 17, K: 3072, transB: true }, 910, 0);
  });
});

Deno.test("linear[shared]: y = x·Wᵀ + b forward and backward vs the CPU reference and finite differences", async () => {
  await onShared(() => checkLinear([3, 29], 70, 67, 11));
});

Deno.test("matmul path choice: forced shared runs mm_shared; auto keeps the texture path on this CPU adapter", async () => {
  const run = () =>
    tidy(async () => {
      const a = Tensor.from(randn(67 * 45, 1), [67, 45]), b = Tensor.from(randn(45 * 36, 2), [45, 36]);
      await matmul(a, b).read(); // N = 36: vec4 stores
      await matmul(a, Tensor.from(randn(45 * 33, 3), [45, 33])).read(); // N = 33: scalar stores
    });
  assertEquals(await onPath("shared", run), ["matmul.mm_shared4", "matmul.mm_shared"]);
  // This machine's adapter is lavapipe: a CPU adapter, so "auto" must not pick the shared path.
  assert(
    isCpuAdapter(gpu().adapterInfo),
    `adapter ${gpu().describe().description} is not seen as a CPU adapter`,
  );
  assertEquals(autoUsesShared(), false);
  const auto = await onPath("auto", run);
  // N % 4 == 0 takes the subgroup variant of the vec4 kernel where the device runs subgroups (lavapipe does).
  const vec4 = textureUsesSubgroups() ? "matmul.mm_sg4" : "matmul.mm_tex4";
  assertEquals(auto, [vec4, "matmul.mm_tex"], "auto on a CPU adapter");
});

Deno.test("isCpuAdapter: software adapters by flag or name; real GPUs are not", () => {
  assert(isCpuAdapter({ isFallbackAdapter: true, description: "" }));
  assert(isCpuAdapter({ description: "llvmpipe (LLVM 15.0.6, 256 bits)", vendor: "65541" }));
  assert(isCpuAdapter({ vendor: "google", architecture: "swiftshader", description: "SwiftShader Device" }));
  assert(isCpuAdapter({ description: "Microsoft Basic Render Driver" }));
  assert(!isCpuAdapter({ isFallbackAdapter: false, description: "NVIDIA H200", vendor: "nvidia" }));
  assert(!isCpuAdapter({ vendor: "apple", architecture: "metal-3", description: "" }));
  assert(!isCpuAdapter({ vendor: "amd", architecture: "rdna-3", description: "AMD Radeon RX 7900 XTX" }));
  assert(!isCpuAdapter({ vendor: "intel", architecture: "xe-lpg", description: "" }));
});

Deno.test("profiler: the shared path shows as matmul.mm_shared with its GFLOP/s", async () => {
  await onShared(async () => {
    await tidy(async () => {
      const a = Tensor.from(randn(130 * 70, 3), [130, 70]),
        b = Tensor.from(randn(70 * 2 * SHARED_TILE, 4), [70, 128]);
      startProfiling();
      let report;
      try {
        matmul(a, b);
        matmul(a, b, { bias: Tensor.from(randn(128, 5), [128]) });
        await gpu().sync();
      } finally {
        report = await stopProfiling();
      }
      const row = report.rows.find((x) => x.name === "matmul.mm_shared4");
      assert(row, `no matmul.mm_shared4 row in ${report.rows.map((x) => x.name)}`);
      assertEquals(row.calls, 2);
      assertEquals(row.family, "matmul");
      assert(row.gflops > 0, `GFLOP/s ${row.gflops}`);
      assert(report.table().includes("matmul.mm_shared4"), "the table names the kernel");
    });
  });
});

Deno.test("parity: bert-tiny fixture on the forced shared path (every GEMM of the step is mm_shared*)", async () => {
  // The same check as `deno task parity --model tests/fixtures/bert-tiny-parity --golden … --matmul-path
  // shared`: logits, loss, every gradient and AdamW update within the fixture's tolerances.
  const dir = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;
  let result;
  const gemms = await onPath("shared", async () => {
    result = await runParity(dir, `${dir}golden.safetensors`);
  });
  assert(result!.pass, `parity failures: ${result!.failures.join("; ")}`);
  assertEquals(result!.tensors_compared, 80);
  // Per layer: forward Q/K/V (one fused product), attention output, FFN in and out (4), backward two per
  // product (8); 2 layers + the classifier's 3.
  assertEquals(gemms.length, 2 * (4 + 8) + 3, `GEMMs: ${gemms.join()}`);
  assertEquals(gemms.filter((l) => !/^matmul\.mm_shared4?$/.test(l)), [], "other GEMM kernels ran");
});
