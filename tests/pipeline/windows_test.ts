// Window planning (HF overflow with stride) and the per-token merge of window logits.
import { assertEquals, assertThrows } from "../_assert.ts";
import { assignTokens, mergeWindowLogits, planWindows } from "../../src/pipeline/mod.ts";

Deno.test("windows: HF overflow layout — size tokens each, next start size − stride later, last ends at the end", () => {
  assertEquals(planWindows(0, 4), []);
  assertEquals(planWindows(3, 4), [{ start: 0, end: 3 }]);
  assertEquals(planWindows(10, 4), [{ start: 0, end: 4 }, { start: 4, end: 8 }, { start: 8, end: 10 }]);
  assertEquals(planWindows(10, 4, 1), [{ start: 0, end: 4 }, { start: 3, end: 7 }, { start: 6, end: 10 }]);
  assertEquals(planWindows(8, 4, 2), [{ start: 0, end: 4 }, { start: 2, end: 6 }, { start: 4, end: 8 }]);
  assertThrows(() => planWindows(10, 4, 4), RangeError, "stride");
  assertThrows(() => planWindows(10, 0), RangeError, "size");
});

Deno.test("windows: each token comes from the window where it has the most context (text edges count as full)", () => {
  // windows [0,6) [4,10) [8,14): overlaps {4,5} and {8,9}
  const ws = planWindows(14, 6, 2);
  assertEquals(ws, [{ start: 0, end: 6 }, { start: 4, end: 10 }, { start: 8, end: 14 }]);
  // token 4: right context 1 in w0, left 0 in w1 → w0; token 5: 0 vs 1 → w1
  assertEquals(Array.from(assignTokens(14, ws)), [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
  // [0,5) [2,7): token 3 has context 1 in both → the earlier window
  assertEquals(Array.from(assignTokens(7, planWindows(7, 5, 3))), [0, 0, 0, 0, 1, 1, 1]);
});

Deno.test("windows: merged logits take every token's row from its window exactly once", () => {
  const ws = planWindows(5, 3, 1); // [0,3) [2,5)
  const L = 2;
  // window k's row for token i holds [k, i]
  const blocks = ws.map((w, k) =>
    Float32Array.from({ length: (w.end - w.start) * L }, (_, j) => j % L === 0 ? k : w.start + (j >> 1))
  );
  assertEquals(Array.from(mergeWindowLogits(5, ws, blocks, L)), [0, 0, 0, 1, 0, 2, 1, 3, 1, 4]);
  assertThrows(() => mergeWindowLogits(5, ws, [blocks[0]], L), RangeError, "logit blocks");
  assertThrows(() => mergeWindowLogits(5, ws, [blocks[0], blocks[0].slice(2)], L), RangeError, "window 1");
});
