import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { BatchLoader, permutation, seededRandom } from "../../src/data/loader.ts";

/** Examples of varied lengths; example i has length 3 + (i * 7919) % 40 and row i. */
const examples = Array.from({ length: 103 }, (_, i) => {
  const n = 3 + (i * 7919) % 40;
  return { row: i, inputIds: new Int32Array(n).fill(5), labels: new Int32Array(n).fill(0) };
});
const flat = (batches: Int32Array[]) => batches.flatMap((b) => Array.from(b));

Deno.test("loader: same seed → same order; each epoch differs; another seed differs", () => {
  const a = new BatchLoader(examples, { batchSize: 8, shuffle: true, seed: 7, padId: 0 });
  const b = new BatchLoader(examples, { batchSize: 8, shuffle: true, seed: 7, padId: 0 });
  const c = new BatchLoader(examples, { batchSize: 8, shuffle: true, seed: 8, padId: 0 });
  assertEquals(flat(a.batchIndices(0)), flat(b.batchIndices(0)));
  assertEquals(flat(a.batchIndices(3)), flat(b.batchIndices(3)));
  assert(flat(a.batchIndices(0)).join() !== flat(a.batchIndices(1)).join(), "epochs 0 and 1 share an order");
  assert(flat(a.batchIndices(0)).join() !== flat(c.batchIndices(0)).join(), "seeds 7 and 8 share an order");
  assertEquals([...flat(a.batchIndices(2))].sort((x, y) => x - y), examples.map((_, i) => i));
});

Deno.test("loader: no shuffle keeps dataset order (evaluation); batch count known up front", () => {
  const evalLoader = new BatchLoader(examples, { batchSize: 10, padId: 0 });
  assertEquals(evalLoader.numBatches, 11);
  assertEquals(flat(evalLoader.batchIndices(5)), examples.map((_, i) => i));
  const batches = [...evalLoader.batches()];
  assertEquals(batches.length, evalLoader.numBatches);
  assertEquals(batches.at(-1)!.batchSize, 3);
  assertEquals(Array.from(batches[1].rows), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  assertEquals(batches[0].seqLen, Math.max(...examples.slice(0, 10).map((e) => e.inputIds.length)));
});

Deno.test("loader: dropLast drops the incomplete batch", () => {
  const loader = new BatchLoader(examples, {
    batchSize: 10,
    shuffle: true,
    seed: 1,
    dropLast: true,
    padId: 0,
  });
  assertEquals(loader.numBatches, 10);
  const batches = [...loader.batches(0)];
  assertEquals(batches.length, 10);
  assert(batches.every((b) => b.batchSize === 10));
  assertEquals(new Set(batches.flatMap((b) => Array.from(b.rows))).size, 100);
});

Deno.test("loader: length grouping cuts padding, puts the longest first, stays seeded", () => {
  const padding = (loader: BatchLoader<typeof examples[0]>) =>
    [...loader.batches(0)].reduce(
      (sum, b) => sum + b.batchSize * b.seqLen - b.lengths.reduce((s, n) => s + n, 0),
      0,
    );
  const random = new BatchLoader(examples, { batchSize: 8, shuffle: true, seed: 3, padId: 0 });
  const grouped = new BatchLoader(examples, {
    batchSize: 8,
    shuffle: true,
    seed: 3,
    groupByLength: true,
    padId: 0,
  });
  assert(padding(grouped) < padding(random) / 2, `${padding(grouped)} vs ${padding(random)}`);
  const longest = Math.max(...examples.map((e) => e.inputIds.length));
  assertEquals([...grouped.batches(0)][0].seqLen, longest);
  assertEquals(
    flat(grouped.batchIndices(1)),
    flat(new BatchLoader(examples, grouped.options).batchIndices(1)),
  );
  assertEquals([...flat(grouped.batchIndices(1))].sort((x, y) => x - y), examples.map((_, i) => i));
  const evalSorted = new BatchLoader(examples, { batchSize: 8, groupByLength: true, padId: 0 });
  const lengths = flat(evalSorted.batchIndices()).map((i) => examples[i].inputIds.length);
  assertEquals(lengths, [...lengths].sort((x, y) => y - x));
});

Deno.test("loader: seeded helpers are deterministic permutations; bad batch sizes throw", () => {
  assertEquals(Array.from(permutation(20, seededRandom(5))), Array.from(permutation(20, seededRandom(5))));
  assertEquals(
    Array.from(permutation(20, seededRandom(5))).sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i),
  );
  const r = seededRandom(9);
  const draws = Array.from({ length: 1000 }, r);
  assert(draws.every((x) => x >= 0 && x < 1));
  assert(Math.abs(draws.reduce((s, x) => s + x, 0) / 1000 - 0.5) < 0.05);
  assertThrows(() => new BatchLoader(examples, { batchSize: 0, padId: 0 }), RangeError);
});
