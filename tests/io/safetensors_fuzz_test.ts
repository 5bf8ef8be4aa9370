/**
 * Fuzz test: a valid file with tensors of every dtype is mutated a few hundred ways; parsing must either
 * succeed with self-consistent tensors or throw SafetensorsError, with no other exception and no large
 * allocation. Mutations known to be invalid must throw, and name the tensor when they touch one.
 */
import { assert } from "../_assert.ts";
import { parseSafetensors, SafetensorsError, toFloat32, toInt32 } from "../../src/io/safetensors.ts";
import { assertConsistent, buildFile, le, rawFile, rng } from "./_safetensors_util.ts";

const base = buildFile([
  { name: "a.f32", dtype: "F32", shape: [2, 3], bytes: le(new Float32Array([1, 2, 3, 4, 5, 6])) },
  { name: "b.i64", dtype: "I64", shape: [4], bytes: le(new BigInt64Array([1n, -1n, 101n, 2n ** 40n])) },
  { name: "c.f16", dtype: "F16", shape: [3], bytes: le(new Uint16Array([0x3c00, 0x7c00, 0x8001])) },
  { name: "d.bf16", dtype: "BF16", shape: [2, 2], bytes: le(new Uint16Array([0x3f80, 0, 0xffff, 1])) },
  { name: "e.u8", dtype: "U8", shape: [5], bytes: new Uint8Array([0, 1, 2, 254, 255]) },
  { name: "f.bool", dtype: "BOOL", shape: [3], bytes: new Uint8Array([1, 0, 1]) },
  { name: "g.f64", dtype: "F64", shape: [2], bytes: le(new Float64Array([Math.PI, -1e300])) },
  { name: "h.i8", dtype: "I8", shape: [1], bytes: new Uint8Array([0x80]) },
  { name: "i.i16", dtype: "I16", shape: [2], bytes: le(new Int16Array([-2, 3])) },
  { name: "j.i32", dtype: "I32", shape: [0, 5], bytes: new Uint8Array(0) },
  { name: "k.scalar", dtype: "F32", shape: [], bytes: le(new Float32Array([0.5])) },
], { format: "pt" });

const NAMES = Object.keys(base.header).filter((k) => k !== "__metadata__");

interface Mutant {
  kind: string;
  bytes: Uint8Array;
  /** Known invalid: parsing must throw. */
  mustFail: boolean;
  /** A tensor name the error must mention. */
  mentions?: string;
}

type Info = { dtype: unknown; shape: unknown; data_offsets: unknown };

function clone(): Record<string, unknown> {
  return structuredClone(base.header);
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

/** Header edits: each returns [header, mustFail, tensor the error should name]. */
const EDITS: ((h: Record<string, unknown>, name: string, r: () => number) => [unknown, boolean, string?])[] =
  [
    (h, n, r) => {
      (h[n] as Info).dtype = pick(r, ["F8_E4M3", "U16", "U64", "C64", "f32", "", null, 5, ["F32"], "I4"]);
      return [h, true, n];
    },
    (h, n, r) => {
      const s = [...(h[n] as { shape: number[] }).shape, 1];
      s[Math.floor(r() * s.length)] = pick(r, [-1, -7, 1.5, NaN, 1e400, "2", null]) as number;
      (h[n] as Info).shape = s;
      return [h, true, n];
    },
    (h, n, r) => {
      (h[n] as Info).shape = pick(r, [[2 ** 53, 2 ** 53], [2 ** 40, 2 ** 40, 2 ** 40], [1e15, 0, 1e15], [
        1e300,
      ]]);
      // [1e15, 0, 1e15] has zero elements: valid only for a tensor that held no bytes
      return [h, n !== "j.i32", n];
    },
    (h, n) => {
      (h[n] as Info).shape = "3";
      return [h, true, n];
    },
    (h, n, r) => {
      const [b, e] = (h[n] as { data_offsets: number[] }).data_offsets;
      const d = 1 + Math.floor(r() * 8);
      (h[n] as Info).data_offsets = pick(r, [[b + d, e + d], [b - d, e - d], [b, e + d], [e, b], [b, e - d]]);
      return [h, b !== e]; // an empty tensor may legitimately move to another boundary
    },
    (h, n, r) => {
      (h[n] as Info).data_offsets = pick(r, [[0, 2 ** 62], [-4, 4], [0], [0, 1, 2], ["0", "4"], null, [
        0.5,
        4,
      ], {}]);
      return [h, true, n];
    },
    (h, n) => { // overlap: the same bytes claimed twice
      h["zz.copy"] = structuredClone(h[n]);
      const empty = (h[n] as { data_offsets: number[] }).data_offsets;
      return [h, empty[0] !== empty[1]];
    },
    (h, n) => { // gap: a tensor dropped
      const [b, e] = (h[n] as { data_offsets: number[] }).data_offsets;
      delete h[n];
      return [h, b !== e];
    },
    (h, n, r) => {
      delete (h[n] as Record<string, unknown>)[pick(r, ["dtype", "shape", "data_offsets"])];
      return [h, true, n];
    },
    (h, n, r) => {
      h[n] = pick(r, [null, 3, "x", [1, 2], true]);
      return [h, true, n];
    },
    (h, _n, r) => {
      h.__metadata__ = pick(r, [{ format: 1 }, "pt", ["pt"], { a: { b: "c" } }, 7, true]);
      return [h, true];
    },
    (_h, _n, r) => [pick(r, [[], 3, "s", null, true, [{ a: 1 }]]), true],
  ];

function mutate(i: number): Mutant {
  const r = rng(1000 + i);
  const src = base.bytes;
  const n = Number(new DataView(src.buffer).getBigUint64(0, true));
  const kind = i % 8;
  if (kind === 0) { // random byte flips in the length and header
    const m = src.slice();
    const flips = 1 + Math.floor(r() * 3);
    for (let k = 0; k < flips; k++) m[Math.floor(r() * (8 + n))] ^= 1 + Math.floor(r() * 255);
    return { kind: "flip header", bytes: m, mustFail: false };
  }
  if (kind === 1) { // flips in the length field only
    const m = src.slice();
    m[Math.floor(r() * 8)] ^= 1 << Math.floor(r() * 8);
    return { kind: "flip length", bytes: m, mustFail: true };
  }
  if (kind === 2) { // truncation
    return { kind: "truncate", bytes: src.slice(0, Math.floor(r() * src.length)), mustFail: true };
  }
  if (kind === 3) { // extra or missing data bytes
    const extra = Math.floor(r() * 16) + 1;
    const m = new Uint8Array(src.length + extra);
    m.set(src);
    return { kind: "append", bytes: m, mustFail: true };
  }
  if (kind === 4) { // odd length fields
    const len = pick(r, [
      2n ** 64n - 1n,
      2n ** 63n,
      100_000_001n,
      BigInt(src.length - 7),
      0n,
      1n,
      BigInt(n - 1),
    ]);
    const m = src.slice();
    new DataView(m.buffer).setBigUint64(0, len, true);
    return { kind: `length ${len}`, bytes: m, mustFail: true };
  }
  if (kind === 5) { // non-JSON or non-UTF-8 header of the same length
    const m = src.slice();
    const what = pick(r, ["garbage", "utf8", "cut"]);
    if (what === "garbage") { for (let k = 8; k < 8 + n; k++) m[k] = Math.floor(r() * 256); }
    if (what === "utf8") m[8 + 1 + Math.floor(r() * (n - 2))] = pick(r, [0xff, 0xc0, 0x80]);
    if (what === "cut") m[m.lastIndexOf(0x7d, 8 + n - 1)] = 0x20; // drop the closing brace
    return { kind: `non-JSON ${what}`, bytes: m, mustFail: true };
  }
  // header edits, re-encoded with a correct length
  const name = pick(r, NAMES);
  const edit = Math.floor(r() * EDITS.length);
  const [h, mustFail, mentions] = EDITS[edit](clone(), name, r);
  const bytes = rawFile(h, base.data);
  if (kind === 7) { // and a random flip on top
    bytes[8 + Math.floor(r() * (bytes.length - 8))] ^= 1 + Math.floor(r() * 255);
    return { kind: `edit ${edit} on ${name} + flip`, bytes, mustFail: false };
  }
  return { kind: `edit ${edit} on ${name}`, bytes, mustFail, mentions };
}

Deno.test("safetensors fuzz: the unmutated file parses", () => {
  const f = parseSafetensors(base.bytes, "base");
  assertConsistent(f, base.bytes, "base");
  assert(f.tensors.size === NAMES.length, "all tensors");
});

Deno.test("safetensors fuzz: 800 mutated files parse consistently or throw SafetensorsError only", () => {
  const COUNT = 800;
  // This isolate's JS heap and ArrayBuffers: the process RSS also moves with what other test modules and
  // the GPU driver's threads allocate and free meanwhile (it grew 69–82 MB in full-suite runs).
  const own = () => {
    const m = Deno.memoryUsage();
    return m.heapUsed + m.external;
  };
  const mem0 = own();
  let maxMem = mem0;
  let ok = 0, failed = 0;
  const outcomes = new Map<string, number>();
  for (let i = 0; i < COUNT; i++) {
    const m = mutate(i);
    const label = `mutant#${i}`;
    try {
      const f = parseSafetensors(m.bytes, label);
      assert(!m.mustFail, `${label} (${m.kind}) should have been rejected`);
      assertConsistent(f, m.bytes, `${label} (${m.kind})`);
      for (const [name, t] of f.tensors) {
        try {
          const isFloat = ["F32", "F16", "BF16", "F64"].includes(t.dtype);
          const v = isFloat ? toFloat32(t, name) : toInt32(t, name);
          const per = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2 }[t.dtype as string] ?? 1;
          assert(v.length === t.data.length / per, `${label}: ${name} converted length`);
        } catch (e) {
          if (!(e instanceof SafetensorsError)) throw e;
        }
      }
      ok++;
    } catch (e) {
      if (!(e instanceof SafetensorsError)) {
        throw new Error(`${label} (${m.kind}) threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
      }
      assert(e.message.startsWith(label + ":"), `${label}: the error names the source: ${e.message}`);
      if (m.mentions) {
        assert(
          e.message.includes(`"${m.mentions}"`),
          `${label} (${m.kind}): error lacks the tensor: ${e.message}`,
        );
      }
      failed++;
      const key = m.kind.split(" ")[0];
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    if (i % 50 === 0) maxMem = Math.max(maxMem, own());
  }
  maxMem = Math.max(maxMem, own());
  assert(ok + failed === COUNT, "every mutant ran");
  assert(failed > COUNT / 2, `most mutants are invalid (${failed} rejected, ${ok} accepted)`);
  assert(ok > 0, "some random flips leave a valid file (e.g. in metadata text)");
  for (const k of ["flip", "truncate", "append", "length", "non-JSON", "edit"]) {
    assert((outcomes.get(k) ?? 0) > 0, `mutation kind ${k} produced rejections`);
  }
  // No allocation in proportion to a claimed size: the claimed sizes reach 2^64 bytes.
  const grown = (maxMem - mem0) / 2 ** 20;
  assert(grown < 64, `memory grew by ${grown.toFixed(1)} MB while fuzzing`);
});
