import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { bucketSize } from "../../src/engine/buffer_pool.ts";
import { gpu, GpuError, splitGrid } from "../../src/engine/gpu.ts";
import { Scope, Tensor, tidy } from "../../src/engine/tensor.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();

Deno.test("gpu: reports the adapter and requests its maximum limits", () => {
  const d = gpu().describe();
  assert(d.description.length > 0, "adapter description");
  assert(d.limits.maxStorageBufferBindingSize >= 128 * 1024 * 1024, "max storage binding");
  assertEquals(d.limits.maxComputeInvocationsPerWorkgroup, gpu().limits.maxComputeInvocationsPerWorkgroup);
});

Deno.test("gpu: a shader error surfaces as an exception naming the kernel", async () => {
  const bad = `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
    @compute @workgroup_size(1) fn main() { o[0] = undefined_thing; }`;
  gpu().dispatch({
    label: "broken.kernel",
    code: bad,
    entryPoint: "main",
    inputs: [],
    outputs: [],
    workgroups: [1],
  });
  const err = await assertRejects(() => gpu().sync(), GpuError);
  assert(err.message.includes("broken.kernel"), err.message);
  await gpu().sync(); // the error is reported once
});

Deno.test("gpu: too many workgroups per dimension is a clear error; splitGrid splits", () => {
  const code = `@compute @workgroup_size(1) fn main() {}`;
  assertThrows(
    () =>
      gpu().dispatch({
        label: "huge",
        code,
        entryPoint: "main",
        inputs: [],
        outputs: [],
        workgroups: [70000],
      }),
    RangeError,
    "exceed",
  );
  const [x, y] = splitGrid(200000);
  assert(x <= 65535 && x * y >= 200000);
});

Deno.test("buffer pool: buckets waste at most 25% and freed buffers are reused", () => {
  for (const n of [1, 255, 257, 4097, 100_000, 3_000_001]) {
    const b = bucketSize(n);
    assert(b >= n && (n < 4096 || b <= n * 1.25 + 256), `bucket ${n} -> ${b}`);
  }
  const before = gpu().memory();
  const t = Tensor.empty([1000, 77]);
  const buf = t.buffer;
  t.dispose();
  const t2 = Tensor.empty([1000, 77]);
  assert(t2.buffer === buf, "same buffer reused");
  t2.dispose();
  const after = gpu().memory();
  assertEquals(after.inUseBytes, before.inUseBytes);
});

Deno.test("tensor: upload/download round trip for f32, i32 and u32; use after dispose throws", async () => {
  await tidy(async () => {
    const f = Tensor.from([1.5, -2, 3e-8], [3]);
    const i = Tensor.from([-100, 0, 7], [3], "i32");
    const u = Tensor.from([0, 4294967295, 9], [3], "u32");
    assertEquals([...await f.read()], [1.5, -2, Math.fround(3e-8)]);
    assertEquals([...await i.read()], [-100, 0, 7]);
    assertEquals([...await u.read()], [0, 4294967295, 9]);
    f.dispose();
    assertThrows(() => f.buffer, Error, "after dispose");
    assertThrows(() => Tensor.from([1, 2], [3]), RangeError, "3 expected");
  });
});

Deno.test("scopes: tidy disposes everything but the result and persistent tensors", () => {
  const inUse = gpu().memory().inUseCount;
  let inner!: Tensor;
  const kept = Tensor.empty([4]).keep();
  const out = tidy(() => {
    inner = Tensor.empty([10]);
    const s = new Scope();
    const a = Tensor.empty([3]);
    const b = Tensor.empty([3]);
    s.end([b]);
    assert(a.disposed && !b.disposed);
    return Tensor.empty([5]);
  });
  assert(inner.disposed, "inner disposed");
  assert(!out.disposed && !kept.disposed);
  out.dispose();
  kept.dispose();
  assertEquals(gpu().memory().inUseCount, inUse);
});

Deno.test("gpu: a binding larger than maxStorageBufferBindingSize is a clear error naming the kernel", () => {
  // The binding's declared size is over the limit; the buffer itself stays small, so this holds on
  // devices where maxBufferSize equals maxStorageBufferBindingSize (Chromium's SwiftShader: both 1 GiB).
  const limit = gpu().limits.maxStorageBufferBindingSize;
  const code = `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
    @compute @workgroup_size(1) fn main() { o[0] = 1.0; }`;
  const small = gpu().pool.acquire(1024, "small");
  try {
    assertThrows(
      () =>
        gpu().dispatch({
          label: "big.kernel",
          code,
          entryPoint: "main",
          inputs: [],
          outputs: [{ buffer: small, size: limit + 4 }],
          workgroups: [1],
        }),
      RangeError,
      "kernel big.kernel: binding 0",
    );
  } finally {
    gpu().pool.release(small);
  }
});

Deno.test("gpu: a pipeline the backend cannot build is reported with its own message", async () => {
  // Reads an undeclared entry point: creation fails; the error must name the kernel and say why.
  const code = `@compute @workgroup_size(1) fn main() {}`;
  gpu().dispatch({
    label: "missing.entry",
    code,
    entryPoint: "nope",
    inputs: [],
    outputs: [],
    workgroups: [1],
  });
  const err = await assertRejects(() => gpu().sync(), GpuError);
  assert(err.message.includes("missing.entry") && /entry point|nope/i.test(err.message), err.message);
});
