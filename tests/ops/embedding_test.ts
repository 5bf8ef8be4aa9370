import { checkIds, embedding, setEmbeddingTokensPerLaunch } from "../../src/ops/embedding.ts";
import { assertEquals } from "../_assert.ts";
import { backward } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { assertClose, dot, f64, finiteDiff, randn, rng, setupGpu } from "../_util.ts";
import { embeddingBackwardRef, embeddingRef } from "../ref/embedding.ts";

await setupGpu();

/** The forward is a copy: exact. */
const EXACT = { atol: 0, rtol: 0 };
/** The backward sums up to N f32 values in token order: compared with the float64 sum. */
const BWD = { atol: 1e-5, rtol: 1e-5 };

interface Case {
  idsShape: number[];
  V: number;
  C: number;
  pad: number | null;
  ids: Int32Array;
  seed: number;
}

/** `n` ids with many repeats: drawn from `distinct` random rows, plus the given extra ids. */
function makeIds(n: number, V: number, distinct: number, seed: number, extra: number[] = []): Int32Array {
  const u = rng(seed);
  const pool = Array.from({ length: distinct }, () => Math.floor(u() * V));
  const ids = Int32Array.from({ length: n }, () => pool[Math.floor(u() * distinct)]);
  extra.forEach((v, k) => ids[(k * 7919) % n] = v);
  return ids;
}

async function run(c: Case) {
  const N = c.ids.length;
  const w = randn(c.V * c.C, c.seed), g = randn(N * c.C, c.seed + 1);
  const out = await tidy(async () => {
    const tw = Tensor.from(w, [c.V, c.C], "f32", "table");
    tw.requiresGrad = true;
    const y = embedding(Tensor.from(c.ids, c.idsShape, "i32"), tw, c.pad);
    if (y.shape.join() !== [...c.idsShape, c.C].join()) throw new Error(`shape ${y.shape}`);
    backward(y, Tensor.from(g, [...c.idsShape, c.C]));
    const [yy, dw] = await readAll([y, tw.grad!]);
    tw.grad!.dispose();
    return { y: yy as Float32Array, dw: dw as Float32Array };
  });
  return { w, g, ...out };
}

async function checkRef(c: Case) {
  const { w, g, y, dw } = await run(c);
  const what = `ids [${c.idsShape}] table ${c.V}×${c.C} pad ${c.pad}`;
  assertClose(y, embeddingRef(c.ids, w, c.V, c.C), EXACT, `forward ${what}`);
  const pad = c.pad === null ? null : c.pad < 0 ? c.pad + c.V : c.pad;
  assertClose(dw, embeddingBackwardRef(c.ids, g, c.V, c.C, pad), BWD, `backward ${what}`);
  return { w, g, dw };
}

Deno.test("embedding: 28996×32 table, 8×64 ids with repeats and padding; forward/backward vs float64", async () => {
  const V = 28996, C = 32;
  const ids = makeIds(512, V, 40, 1, [0, 0, 0, V - 1, 1, 28995]);
  const { dw } = await checkRef({ idsShape: [8, 64], V, C, pad: 0, ids, seed: 10 });
  // repeated ids really accumulate: the most frequent id got the sum of many rows
  const counts = new Map<number, number>();
  ids.forEach((v) => counts.set(v, (counts.get(v) ?? 0) + 1));
  const [top, k] = [...counts].filter(([v]) => v !== 0).sort((a, b) => b[1] - a[1])[0];
  if (k < 10) throw new Error(`test ids should repeat (top id ${top} occurs ${k} times)`);
  if (dw.subarray(0, C).some((v) => v !== 0)) throw new Error("padding row 0 received a gradient");
});

Deno.test("embedding: uneven shapes on the scalar and vec4 paths", async () => {
  await checkRef({ idsShape: [7, 13], V: 50, C: 13, pad: 3, ids: makeIds(91, 50, 9, 2, [3, 3]), seed: 20 });
  await checkRef({
    idsShape: [3, 5, 17],
    V: 1000,
    C: 33,
    pad: null,
    ids: makeIds(255, 1000, 30, 3),
    seed: 30,
  });
  await checkRef({
    idsShape: [3, 37],
    V: 1000,
    C: 768,
    pad: 0,
    ids: makeIds(111, 1000, 20, 4, [0]),
    seed: 40,
  });
  await checkRef({ idsShape: [1], V: 5, C: 4, pad: -1, ids: Int32Array.from([4]), seed: 50 }); // pad = V-1
  await checkRef({ idsShape: [2], V: 5, C: 8, pad: null, ids: Int32Array.from([4, 4]), seed: 60 });
});

Deno.test("embedding: out-of-range ids give zero rows and no gradient; checkIds names the position", async () => {
  const V = 20, C = 12;
  const ids = Int32Array.from([1, -1, 20, 2 ** 31 - 1, -(2 ** 31), 19, 1]);
  const { y } = await run({ idsShape: [7], V, C, pad: null, ids, seed: 70 });
  for (const n of [1, 2, 3, 4]) {
    if (y.subarray(n * C, (n + 1) * C).some((v) => v !== 0)) throw new Error(`row ${n} not zero`);
  }
  await checkRef({ idsShape: [7], V, C, pad: null, ids, seed: 70 });
  checkIds(Int32Array.from([0, 19, 5]), V, "input_ids");
  let message = "";
  try {
    checkIds(ids, V, "input_ids");
  } catch (e) {
    message = (e as Error).message;
  }
  if (!message.includes("input_ids") || !message.includes("position 1") || !message.includes("-1")) {
    throw new Error(`unclear checkIds message: '${message}'`);
  }
});

Deno.test("embedding: backward equals central finite differences (padding row: none)", async () => {
  const V = 11, C = 7, pad = 2;
  const ids = Int32Array.from([2, 5, 5, 0, 10, 5, 2, 7, 0, 5, 3, 3]);
  const { w, g, dw } = await run({ idsShape: [3, 4], V, C, pad, ids, seed: 80 });
  const fd = finiteDiff(([ww]) => dot(embeddingRef(ids, ww, V, C), g), [f64(w)], 0);
  // nn.Embedding(padding_idx): the forward uses the padding row, yet it gets no gradient by definition.
  for (let c = 0; c < C; c++) {
    if (dw[pad * C + c] !== 0) throw new Error("padding row got a gradient");
    if (fd[pad * C + c] === 0) throw new Error("test needs the padding id in the input");
    fd[pad * C + c] = 0;
  }
  assertClose(dw, fd, { atol: 1e-5, rtol: 1e-5 }, "dweight vs FD");
  // Same on the big table, at sampled entries (used rows, unused rows, last row).
  const V2 = 28996, C2 = 32;
  const ids2 = makeIds(100, V2, 12, 5, [V2 - 1]);
  const r2 = await run({ idsShape: [100], V: V2, C: C2, pad: null, ids: ids2, seed: 90 });
  const idx = [...[ids2[0], ids2[1], V2 - 1, 17].flatMap((v) => [v * C2, v * C2 + 31]), 5 * C2 + 3];
  const fd2 = finiteDiff(([ww]) => dot(embeddingRef(ids2, ww, V2, C2), r2.g), [f64(r2.w)], 0, 1e-5, idx);
  assertClose(idx.map((i) => r2.dw[i]), idx.map((i) => fd2[i]), { atol: 1e-5, rtol: 1e-5 }, "big table FD");
});

Deno.test("embedding: no ids give an empty output and a zero gradient", async () => {
  const { y, dw } = await run({ idsShape: [2, 0], V: 6, C: 8, pad: 0, ids: new Int32Array(0), seed: 110 });
  if (y.length !== 0) throw new Error(`expected an empty output, got ${y.length} values`);
  assertClose(dw, new Float32Array(48), EXACT, "dweight");
});

Deno.test("embedding: backward is deterministic", async () => {
  const c = { idsShape: [512], V: 300, C: 64, pad: 0, ids: makeIds(512, 300, 10, 9), seed: 100 };
  const a = await run(c), b = await run(c);
  assertClose(b.dw, a.dw, EXACT, "two backward runs");
});

Deno.test("embedding: 70001 tokens (past lavapipe's 65535 loop iterations) and token-range launches are exact", async () => {
  // One launch walks at most 60000 tokens: without the split, lavapipe stopped summing after 65535 tokens.
  // (f32 sums of ~1750 tokens per row against float64: atol 1e-3; 4466 missing tokens would be off by ~5.)
  const big: Case = {
    ids: makeIds(70001, 50, 40, 500, [3]),
    idsShape: [70001],
    V: 50,
    C: 8,
    pad: 3,
    seed: 501,
  };
  const r = await run(big);
  assertClose(r.dw, embeddingBackwardRef(big.ids, r.g, 50, 8, 3), { atol: 1e-3, rtol: 1e-4 }, "70001 tokens");
  const c: Case = {
    ids: makeIds(300, 37, 20, 502, [5]),
    idsShape: [3, 100],
    V: 37,
    C: 12,
    pad: 5,
    seed: 503,
  };
  const whole = await run(c);
  setEmbeddingTokensPerLaunch(7); // 43 launches of consecutive token ranges: the same sums in the same order
  try {
    assertEquals((await run(c)).dw, whole.dw, "7-token launches = one launch, bitwise");
  } finally {
    setEmbeddingTokensPerLaunch(60000);
  }
});
