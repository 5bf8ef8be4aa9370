import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { compareCodePoints, formatFixed, numpyAverage, numpySum } from "../../src/metrics/numeric.ts";

/** Exact equality (same double, same string). */
function assertStrictEquals(actual: unknown, expected: unknown): void {
  assert(Object.is(actual, expected), `expected ${String(expected)}, got ${String(actual)}`);
}

Deno.test("formatFixed rounds exact binary ties half to even, like Python and printf", () => {
  // 0.125, 0.375, 0.625, 0.875 are exact in binary: true ties at 2 decimals.
  assertStrictEquals(formatFixed(0.125, 2), "0.12");
  assertStrictEquals(formatFixed(0.375, 2), "0.38");
  assertStrictEquals(formatFixed(0.625, 2), "0.62");
  assertStrictEquals(formatFixed(0.875, 2), "0.88");
  assertStrictEquals(formatFixed(2.5, 0), "2");
  assertStrictEquals(formatFixed(3.5, 0), "4");
  assertStrictEquals(formatFixed(-0.125, 2), "-0.12");
  // toFixed disagrees on those ties, which is why formatFixed exists.
  assertStrictEquals((0.125).toFixed(2), "0.13");
});

Deno.test("formatFixed rounds non-ties from the exact binary value", () => {
  // 1.005 is stored as 1.00499999999999989..., 0.145 as 0.14499999999999999...
  assertStrictEquals(formatFixed(1.005, 2), "1.00");
  assertStrictEquals(formatFixed(0.145, 2), "0.14");
  // 0.1251 is above the tie.
  assertStrictEquals(formatFixed(0.1251, 2), "0.13");
  assertStrictEquals(formatFixed(2 / 3, 4), "0.6667");
  assertStrictEquals(formatFixed(100, 2), "100.00");
  assertStrictEquals(formatFixed(0, 2), "0.00");
  assertStrictEquals(formatFixed(NaN, 2), "nan");
});

Deno.test("numpySum uses NumPy's summation order", () => {
  const big = 2 ** 53;
  // Fewer than 8 values: left to right. big + 1 is lost each time, so the ones vanish.
  assertStrictEquals(numpySum([big, 1, 1, 1, 1, 1, 1]), big);
  // 8..128 values: eight interleaved accumulators combined pairwise, then the remainder.
  const a = [big, 1, 1, 1, 1, 1, 1, 1, 1, 1];
  const expected = (((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))) + a[8] + a[9];
  assertStrictEquals(numpySum(a), expected);
  // Left to right would lose every 1; NumPy's order keeps several of them.
  assertStrictEquals(a.reduce((s, x) => s + x, 0), big);
  assert(numpySum(a) > big);
  // More than 128 values: split at a multiple of 8 below the half, recursively.
  const many = Array.from({ length: 300 }, (_, i) => 1 / (i + 1));
  const split = (lo: number, n: number): number => {
    if (n <= 128) return numpySum(many.slice(lo, lo + n));
    let h = Math.floor(n / 2);
    h -= h % 8;
    return split(lo, h) + split(lo + h, n - h);
  };
  assertStrictEquals(numpySum(many), split(0, 300));
  // float(np.sum(1 / np.arange(1, 301))) printed by NumPy 2.4; left-to-right summation gives another value.
  assertStrictEquals(numpySum(many), 6.282663880299504);
  assert(many.reduce((s, x) => s + x, 0) !== 6.282663880299504);
});

Deno.test("numpyAverage: plain and weighted means; empty gives NaN", () => {
  assertStrictEquals(numpyAverage([0.5, 1]), 0.75);
  assertStrictEquals(numpyAverage([0.5, 1], [1, 3]), (0.5 * 1 + 1 * 3) / 4);
  assert(Number.isNaN(numpyAverage([])));
  assertThrows(() => numpyAverage([1, 2], [1]), RangeError);
});

Deno.test("compareCodePoints orders like Python's sorted()", () => {
  const words = ["b", "a", "\u{1F600}", "\uFFFD", "B", "aa", ""];
  const sorted = [...words].sort(compareCodePoints);
  assertEquals(sorted, ["", "B", "a", "aa", "b", "\uFFFD", "\u{1F600}"]);
  // The default sort compares UTF-16 units and puts the emoji (a surrogate pair) before U+FFFD.
  const naive = [...words].sort();
  assert(naive.indexOf("\u{1F600}") < naive.indexOf("\uFFFD"));
});
