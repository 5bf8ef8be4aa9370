// The shared assertions can fail: assertEquals tells NaN, ±Infinity and −0 apart from null and 0 (the
// JSON comparison it replaced did not), and compares typed arrays, Maps and nested objects deeply.
import { assert, assertEquals, assertThrows, equal } from "./_assert.ts";

Deno.test("assertEquals: NaN, ±Infinity and −0 are not null or 0", () => {
  assertEquals(NaN, NaN);
  assertEquals([Infinity, -Infinity, -0], [Infinity, -Infinity, -0]);
  assertThrows(() => assertEquals(NaN, null), Error, "expected null, got NaN");
  assertThrows(() => assertEquals([Infinity], [null]), Error, "got [Infinity]");
  assertThrows(() => assertEquals(-0, 0), Error, "expected 0, got -0");
  assertThrows(() => assertEquals(new Float32Array([NaN]), new Float32Array([0])));
  assertThrows(() => assertEquals({ x: -Infinity }, { x: null }));
});

Deno.test("assertEquals: typed arrays, Maps, Sets and objects compare by content and kind", () => {
  assertEquals(new Float32Array([1, 2]), new Float32Array([1, 2]));
  assert(!equal(new Float32Array([1, 2]), new Float32Array([1, 3])));
  assert(!equal(new Float32Array([1]), new Int32Array([1])));
  assert(!equal(new Float32Array([1]), [1]));
  assert(!equal(new Map([["a", 1]]), new Map([["a", 2]])));
  assert(equal(new Map([["a", [1, NaN]]]), new Map([["a", [1, NaN]]])));
  assert(!equal(new Set([1]), new Set([2])));
  assert(!equal({ a: 1 }, { a: 1, b: 2 }));
  assert(equal({ a: 1, b: undefined }, { a: 1 }));
  assert(!equal([1, [2, [3]]], [1, [2, [4]]]));
});
