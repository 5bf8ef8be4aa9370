import { dropout, DropoutSeeds } from "../../src/ops/dropout.ts";
import { backward } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { assertClose, dot, f64, finiteDiff, randn, setupGpu } from "../_util.ts";
import { dropoutKeepRef, dropoutRef } from "../ref/dropout.ts";

await setupGpu();

/** y = x · f32(1/(1-p)) rounded once in f32: within 2 ulp of the float64 value. */
const TOL = { atol: 0, rtol: 2.5e-7 };

async function fwdBwd(x: Float32Array, g: Float32Array, shape: number[], p: number, seed: number) {
  return await tidy(async () => {
    const tx = Tensor.from(x, shape);
    tx.requiresGrad = true;
    const y = dropout(tx, p, seed);
    backward(y, Tensor.from(g, shape));
    const [yy, dx] = await readAll([y, tx.grad!]);
    tx.grad!.dispose();
    return { y: yy, dx };
  });
}

function assertMask(y: ArrayLike<number>, keep: boolean[], what: string) {
  for (let i = 0; i < keep.length; i++) {
    if ((y[i] !== 0) !== keep[i]) {
      throw new Error(`${what}: element ${i} kept=${y[i] !== 0}, host says ${keep[i]}`);
    }
  }
}

Deno.test("dropout: mask equals the host rngUniform prediction; forward/backward match float64", async () => {
  const cases: [number[], number, number][] = [
    [[7, 13], 0.1, 1],
    [[257, 129], 0.5, 123456789],
    [[3, 5, 17, 33], 0.3, 0xffffffff],
    [[1], 0.9, 7],
    [[0], 0.5, 8],
  ];
  for (const [shape, p, seed] of cases) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randn(n, seed % 1000), g = randn(n, seed % 1000 + 1);
    const out = await fwdBwd(x, g, shape, p, seed);
    const keep = dropoutKeepRef(n, p, seed);
    assertMask(out.y, keep, `forward [${shape}] p=${p}`);
    assertMask(out.dx, keep, `backward [${shape}] p=${p}`);
    assertClose(out.y, dropoutRef(x, p, seed), TOL, `dropout [${shape}] p=${p}`);
    assertClose(out.dx, dropoutRef(g, p, seed), TOL, `dropout backward [${shape}] p=${p}`);
  }
});

Deno.test("dropout: keep fraction ≈ 1 - p; same seed → same mask, other seed → other mask", async () => {
  const n = 257 * 129;
  const x = new Float32Array(n).fill(1);
  for (const p of [0.1, 0.5]) {
    const [a, b, c] = await tidy(async () => {
      const t = Tensor.from(x, [n]);
      return (await readAll([dropout(t, p, 42), dropout(t, p, 42), dropout(t, p, 43)])) as Float32Array[];
    });
    const kept = a.reduce((s: number, v: number) => s + (v !== 0 ? 1 : 0), 0) / n;
    const sigma = Math.sqrt(p * (1 - p) / n);
    if (Math.abs(kept - (1 - p)) > 5 * sigma) throw new Error(`p=${p}: kept fraction ${kept}`);
    assertClose(b, a, { atol: 0, rtol: 0 }, "same seed");
    const differ = a.reduce((s: number, v: number, i: number) =>
      s + ((v !== 0) !== (c[i] !== 0) ? 1 : 0), 0) / n;
    // independent masks differ in a fraction 2p(1-p) of the elements
    if (Math.abs(differ - 2 * p * (1 - p)) > 0.02) throw new Error(`p=${p}: seeds 42/43 differ at ${differ}`);
    const expectedScale = Math.fround(1 / (1 - p));
    if (!a.every((v) => v === 0 || v === expectedScale)) throw new Error(`p=${p}: kept values not 1/(1-p)`);
  }
});

Deno.test("dropout: p = 0 returns the input; p = 1 gives zeros; bad p or seed throws", async () => {
  await tidy(async () => {
    const t = Tensor.from(randn(10, 1), [2, 5]);
    if (dropout(t, 0, 5) !== t) throw new Error("p = 0 must return x itself");
    t.requiresGrad = true;
    const y = dropout(t, 1, 5);
    backward(y, Tensor.from(randn(10, 2), [2, 5]));
    const [yy, dx] = await readAll([y, t.grad!]);
    assertClose(yy, new Float32Array(10), { atol: 0, rtol: 0 }, "p = 1 forward");
    assertClose(dx, new Float32Array(10), { atol: 0, rtol: 0 }, "p = 1 backward");
    t.grad!.dispose();
    for (const [p, s] of [[-0.1, 1], [1.5, 1], [NaN, 1], [0.1, 1.5]]) {
      let threw = false;
      try {
        dropout(t, p, s);
      } catch {
        threw = true;
      }
      if (!threw) throw new Error(`dropout(p=${p}, seed=${s}) did not throw`);
    }
  });
});

Deno.test("dropout: backward equals central finite differences of the float64 forward", async () => {
  const shape = [11, 23], n = 11 * 23, p = 0.25, seed = 99;
  const x = randn(n, 3), r = randn(n, 4);
  const out = await fwdBwd(x, r, shape, p, seed);
  const fd = finiteDiff(([xx]) => dot(dropoutRef(xx, p, seed), r), [f64(x)], 0);
  assertClose(out.dx, fd, { atol: 1e-6, rtol: 1e-6 }, "dropout dx vs FD");
});

Deno.test("DropoutSeeds: deterministic, distinct, resumable", () => {
  const a = new DropoutSeeds(2024), b = new DropoutSeeds(2024), c = new DropoutSeeds(2025);
  const sa = Array.from({ length: 10000 }, () => a.next());
  const sb = Array.from({ length: 10000 }, () => b.next());
  if (sa.some((v, i) => v !== sb[i])) throw new Error("same seed gave different streams");
  if (new Set(sa).size !== sa.length) throw new Error("seeds repeat within a stream");
  if (sa.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) throw new Error("seed not a u32");
  if (c.next() === sa[0]) throw new Error("different streams start alike");
  const d = new DropoutSeeds(2024);
  d.setState(a.state() - 5);
  const resumed = Array.from({ length: 5 }, () => d.next());
  if (resumed.some((v, i) => v !== sa[9995 + i])) throw new Error("setState did not resume the stream");
  if (d.state() !== 10000) throw new Error(`state ${d.state()}`);
});
