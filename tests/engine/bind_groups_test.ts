// Bind-group reuse (src/engine/bind_groups.ts): a dispatch on the same resources reuses its bind group while
// each dispatch still reads its own params (the uniform's dynamic offset); other offsets, sizes or buffers
// get their own; destroying a buffer or texture through the engine drops the groups that name it.
import { setBindGroupReuse } from "../../src/engine/bind_groups.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { Tensor, tidy } from "../../src/engine/tensor.ts";
import { addInPlace, fill, fillInPlace } from "../../src/ops/elementwise.ts";
import { assert, assertEquals } from "../_assert.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();

Deno.test("bind groups: a repeated dispatch reuses its group and still reads its own params", async () => {
  const t = Tensor.empty([1000]).keep(), acc = Tensor.empty([1000]).keep();
  const before = gpu().bindGroups.stats();
  fillInPlace(acc, 0);
  // one batch, no flush in between: every fillInPlace binds t alone, with a different value each time
  for (const v of [1, 2, 3, 4]) {
    fillInPlace(t, v);
    addInPlace(acc, t);
  }
  const got = await acc.readF32();
  assert(got.every((x) => x === 10), `acc = 1+2+3+4 everywhere, got ${got[0]}`);
  const after = gpu().bindGroups.stats();
  assertEquals(after.misses - before.misses, 3, "one group each for fill(acc), fill(t), add(acc, t)");
  assertEquals(after.hits - before.hits, 6, "the other six dispatches reused them");
  t.dispose();
  acc.dispose();
});

Deno.test("bind groups: another offset, size or buffer gets its own group; off means always new", async () => {
  const a = Tensor.empty([64]).keep(), b = Tensor.empty([64]).keep();
  fillInPlace(a, 1);
  const s0 = gpu().bindGroups.stats();
  fillInPlace(b, 2); // another buffer
  fillInPlace(a, 3); // the first again
  const s1 = gpu().bindGroups.stats();
  assertEquals([s1.misses - s0.misses, s1.hits - s0.hits], [1, 1]);
  setBindGroupReuse(false);
  try {
    fillInPlace(a, 5);
    fillInPlace(a, 6);
  } finally {
    setBindGroupReuse(true);
  }
  const s2 = gpu().bindGroups.stats();
  assertEquals([s2.misses - s1.misses, s2.hits - s1.hits], [2, 0], "reuse off: two new groups");
  assertEquals([...await a.readF32()].slice(0, 2), [6, 6]);
  assertEquals([...await b.readF32()].slice(0, 2), [2, 2]);
  a.dispose();
  b.dispose();
});

Deno.test("bind groups: destroying a bound buffer drops its groups; the pool's trim does too", async () => {
  const cache = gpu().bindGroups;
  const own = gpu().device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE, label: "own" });
  const t = Tensor.empty([16]);
  const spec = (buffer: GPUBuffer) => ({
    label: "test.fill",
    code: `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
           @compute @workgroup_size(1) fn main() { o[0] = 1.0; }`,
    entryPoint: "main",
    inputs: [],
    outputs: [{ buffer, size: 64 }],
    workgroups: [1] as [number],
  });
  gpu().dispatch(spec(own));
  const n0 = cache.stats().entries;
  await gpu().sync(); // encoded work must be submitted before its buffers are destroyed
  gpu().destroy(own);
  assertEquals(cache.stats().entries, n0 - 1, "the group binding the destroyed buffer is gone");
  await gpu().sync();
  // a pooled buffer: bound, released, trimmed (destroyed), then a fresh buffer binds without error
  tidy(() => {
    fillInPlace(t, 7);
  });
  const pooled = t.buffer;
  const n1 = cache.stats().entries;
  await gpu().sync();
  t.dispose();
  gpu().pool.trim();
  assert(cache.stats().entries < n1, "trim dropped the pooled buffer's groups");
  const again = fill([16], 8);
  assert(again.buffer !== pooled);
  assertEquals((await again.readF32())[0], 8);
  again.dispose();
});
