// OverlappedGradientSync on one process (the identity group): every reported and unreported gradient
// goes through a bucket exactly once, with at most 4 buckets in flight, and comes back unchanged.
import { assertEquals } from "../_assert.ts";
import { setupGpu } from "../_util.ts";
import { LocalGroup } from "../../src/dist/group.ts";
import { OverlappedGradientSync } from "../../src/dist/collectives.ts";
import { Tensor } from "../../src/engine/tensor.ts";

await setupGpu();

Deno.test("overlapped gradient sync: buckets of reported gradients plus the rest, values preserved", async () => {
  const params = Array.from({ length: 9 }, (_, k) => {
    const p = Tensor.from(new Float32Array(300 + k), [300 + k], "f32", `p${k}`).keep();
    p.grad = Tensor.from(Float32Array.from({ length: 300 + k }, (_, i) => k + i / 1000), [300 + k]).keep();
    return p;
  });
  let calls = 0;
  const group = new LocalGroup();
  const allReduce = group.allReduce.bind(group);
  group.allReduce = (d, op) => (calls++, allReduce(d, op));
  const sync = new OverlappedGradientSync(group, 2500); // ~2 gradients per bucket
  for (const p of params.slice(0, 5).reverse()) sync.ready(p); // reported by the backward pass
  sync.ready(params[4]); // a second report is ignored
  await sync.finish(params); // p5..p8 were never reported
  assertEquals(calls, 5);
  for (const [k, p] of params.entries()) {
    const g = await p.grad!.readF32();
    assertEquals(g[0], k);
    assertEquals(Math.abs(g[299] - (k + 0.299)) < 1e-6, true);
    p.grad!.persistent = false;
    p.persistent = false;
    p.dispose();
  }
});
