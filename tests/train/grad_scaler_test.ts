// GradScaler (src/train/grad_scaler.ts): torch.cuda.amp.GradScaler's defaults and update rule, the GPU
// unscale that finds NaN/Inf gradients, and the state round trip.
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { clipGradNorm } from "../../src/ops/adamw.ts";
import { GradScaler } from "../../src/train/grad_scaler.ts";
import { assertClose, randn, setupGpu } from "../_util.ts";

await setupGpu();

Deno.test("GradScaler: torch's defaults (2^16, ×2 every 2000 good steps, ×0.5 on overflow)", () => {
  assertEquals(new GradScaler().stateDict(), {
    scale: 65536,
    growth_factor: 2,
    backoff_factor: 0.5,
    growth_interval: 2000,
    _growth_tracker: 0,
  });
  const s = new GradScaler();
  for (let i = 0; i < 1999; i++) s.update(false);
  assertEquals([s.scale, s.growthTracker], [65536, 1999]);
  s.update(false); // the 2000th good step in a row grows the scale and resets the tracker
  assertEquals([s.scale, s.growthTracker], [131072, 0]);
});

Deno.test("GradScaler: an overflow halves the scale and resets the growth tracker; growth needs an unbroken run", () => {
  const s = new GradScaler({ initScale: 1024, growthInterval: 3 });
  s.update(false);
  s.update(false);
  assertEquals([s.scale, s.growthTracker], [1024, 2]);
  s.update(true);
  assertEquals([s.scale, s.growthTracker, s.skippedSteps], [512, 0, 1]);
  s.update(true);
  assertEquals([s.scale, s.growthTracker, s.skippedSteps], [256, 0, 2]);
  s.update(false);
  s.update(false);
  assertEquals(s.scale, 256);
  s.update(false);
  assertEquals([s.scale, s.growthTracker], [512, 0]);
  // Growth that would overflow float32 is not applied (torch keeps the scale when it is not finite).
  const big = new GradScaler({ initScale: 2 ** 127, growthInterval: 1 });
  big.update(false);
  assertEquals(big.scale, 2 ** 127);
  assertEquals(big.growthTracker, 0);
});

Deno.test("GradScaler.unscale: gradients × 1/scale in place (exact for a power of two); finite → no skip", async () => {
  await tidy(async () => {
    const s = new GradScaler({ initScale: 2 ** 10 });
    const a = randn(1000, 1, 2 ** 10), b = randn(37, 2, 2 ** 10);
    const pa = Tensor.from(new Float32Array(1000), [1000]), pb = Tensor.from(new Float32Array(37), [37]);
    pa.grad = Tensor.from(a, [1000]);
    pb.grad = Tensor.from(b, [37]);
    const loss = Tensor.from(new Float32Array([2.5]), [1]);
    const r = await s.unscale([pa, pb], [loss]);
    assertEquals(r, { foundInf: false, finite: [true] });
    const [ga, gb] = await readAll([pa.grad, pb.grad]);
    assertEquals([...ga], [...a].map((x) => x / 2 ** 10));
    assertEquals([...gb], [...b].map((x) => x / 2 ** 10));
    // Unscaled before clipping: the clip sees the true norm (not 2^10 times it).
    const { norm } = clipGradNorm([pa, pb], 1);
    let sq = 0;
    for (const x of [...a, ...b]) sq += (x / 2 ** 10) ** 2;
    assertClose(await norm.read(), [Math.sqrt(sq)], { atol: 0, rtol: 1e-5 }, "norm of unscaled grads");
  });
});

Deno.test("GradScaler.unscale: one NaN or Inf in any gradient means skip; the loss check is separate", async () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    await tidy(async () => {
      const s = new GradScaler();
      const ps = [300, 5, 4097].map((n) => Tensor.from(new Float32Array(n), [n]));
      ps.forEach((p, i) => {
        const g = randn(p.size, 10 + i);
        if (i === 2) g[4096] = bad; // the last element of the largest gradient
        p.grad = Tensor.from(g, [p.size]);
      });
      const noGrad = Tensor.from(new Float32Array(3), [3]); // no gradient: ignored
      const loss = Tensor.from(new Float32Array([bad]), [1]);
      const r = await s.unscale([...ps, noGrad], [loss, Tensor.from(new Float32Array([1]), [1])]);
      assertEquals(r, { foundInf: true, finite: [false, true] }, `value ${bad}`);
    });
  }
  // torch checks the values before the multiply: a finite value that the unscale (scale < 1) pushes
  // past float32's range is not an overflow of this step.
  await tidy(async () => {
    const p = Tensor.from(new Float32Array(1), [1]);
    p.grad = Tensor.from(new Float32Array([3e38]), [1]);
    const r = await new GradScaler({ initScale: 0.5 }).unscale([p]);
    assertEquals(r.foundInf, false);
    assertEquals((await p.grad.read())[0], Infinity);
  });
});

Deno.test("GradScaler: state round trip, and a malformed state names the field", () => {
  const s = new GradScaler({ initScale: 4096, growthInterval: 7 });
  s.update(false);
  s.update(false);
  const t = GradScaler.fromState(JSON.parse(JSON.stringify(s.stateDict())));
  assertEquals(t.stateDict(), s.stateDict());
  assertEquals(t.stateDict()._growth_tracker, 2);
  t.update(false);
  s.update(false);
  assertEquals(t.stateDict(), s.stateDict());
  const e = assertThrows(() => GradScaler.fromState({ ...s.stateDict(), scale: "big" }, "ckpt/scaler.json"));
  assert(e.message.startsWith("ckpt/scaler.json: field 'scale'"), e.message);
  assertThrows(
    () => GradScaler.fromState({ ...s.stateDict(), _growth_tracker: 1.5 }),
    Error,
    "_growth_tracker",
  );
  assertThrows(() => GradScaler.fromState(null), Error, "field 'scale'");
  assertThrows(() => new GradScaler({ backoffFactor: 1 }), RangeError);
});
