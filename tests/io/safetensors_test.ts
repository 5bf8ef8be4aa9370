import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import {
  loadShardedIndex,
  parseSafetensors,
  readSafetensors,
  SafetensorsError,
  serializeSafetensors,
  toFloat32,
  toInt32,
} from "../../src/io/safetensors.ts";
import { assertConsistent, buildFile, le, rawFile } from "./_safetensors_util.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function headerOf(bytes: Uint8Array): { n: number; text: string } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { n, text: dec.decode(bytes.subarray(8, 8 + n)) };
}

function bitsEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

Deno.test("safetensors: serialize matches the byte layout of the Rust library's own test vectors", () => {
  const data = new Float32Array([0, 1, 2, 3, 4, 5]);
  // One F32 tensor: 64-byte header, already a multiple of 8, data right after.
  let out = serializeSafetensors([{ name: "attn.0", dtype: "F32", shape: [1, 2, 3], data }]);
  let h = headerOf(out);
  assertEquals(h.text, `{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`);
  assertEquals(h.n, 64);
  assert(bitsEqual(out.subarray(72), data), "data bytes");
  // A shorter name and one more dim: 65 bytes padded with 7 spaces to 72.
  out = serializeSafetensors([{ name: "attn0", dtype: "F32", shape: [1, 1, 2, 3], data }]);
  h = headerOf(out);
  assertEquals(h.n, 72);
  assertEquals(h.text, `{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `);
  assertEquals(out.length, 8 + 72 + 24);
  // Empty, with and without metadata.
  assertEquals([...serializeSafetensors([])], [8, 0, 0, 0, 0, 0, 0, 0, ...enc.encode("{}      ")]);
  out = serializeSafetensors([], { framework: "pt" });
  assertEquals([...out], [
    40,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    ...enc.encode(`{"__metadata__":{"framework":"pt"}}     `),
  ]);
});

Deno.test("safetensors: serialize orders by dtype alignment (descending) then name, metadata first", () => {
  const out = serializeSafetensors([
    { name: "b_f16", dtype: "F16", shape: [1], data: new Uint16Array([0x3c00]) },
    { name: "z_f32", dtype: "F32", shape: [1], data: new Float32Array([1]) },
    { name: "a_f32", dtype: "F32", shape: [1], data: new Float32Array([2]) },
    { name: "c_i32", dtype: "I32", shape: [1], data: new Int32Array([3]) },
    { name: "d_bf16", dtype: "BF16", shape: [1], data: new Uint16Array([0x3f80]) },
    { name: "e_i64", dtype: "I64", shape: [1], data: new BigInt64Array([4n]) },
  ], { format: "pt" });
  const { n, text } = headerOf(out);
  assertEquals(n % 8, 0);
  assert(/^\{.*\} {0,7}$/.test(text), "compact JSON padded with spaces");
  const keys = Object.keys(JSON.parse(text));
  assertEquals(keys, ["__metadata__", "e_i64", "a_f32", "z_f32", "c_i32", "d_bf16", "b_f16"]);
  const parsed = JSON.parse(text);
  const offs = keys.slice(1).map((k) => parsed[k].data_offsets);
  assertEquals(offs, [[0, 8], [8, 12], [12, 16], [16, 20], [20, 22], [22, 24]]);
  assertEquals(out.length, 8 + n + 24);
  // the header must be parseable at its exact position: data right after the padding
  const f = parseSafetensors(out, "ordered");
  assertEquals(Array.from(toFloat32(f.tensors.get("a_f32")!)), [2]);
  assertEquals(Array.from(toInt32(f.tensors.get("e_i64")!)), [4]);
});

Deno.test("safetensors: serialize → parse round trip is bit-identical for every writable dtype", () => {
  const f32 = new Float32Array([
    0,
    -0,
    1.5,
    -3.25e-39,
    3.4028234663852886e38,
    Infinity,
    -Infinity,
    NaN,
    1e-45,
  ]);
  new Uint32Array(f32.buffer)[7] = 0x7fc12345; // NaN payload must survive
  const i32 = new Int32Array([0, -1, 2147483647, -2147483648, 42, 7]);
  const i64 = new BigInt64Array([0n, -1n, 9007199254740993n, -(2n ** 63n), 2n ** 63n - 1n]);
  const f16 = new Uint16Array([0x0000, 0x8000, 0x3c00, 0x7c00, 0xfc00, 0x7e01, 0x0001, 0x7bff]);
  const bf16 = new Uint16Array([0x3f80, 0xc2f7, 0x7f80, 0xff80, 0x7fc1, 0x0001]);
  const tensors = [
    { name: "w.f32", dtype: "F32" as const, shape: [3, 3], data: f32 },
    { name: "w.i32", dtype: "I32" as const, shape: [2, 3], data: i32 },
    { name: "w.i64", dtype: "I64" as const, shape: [5], data: i64 },
    { name: "w.f16", dtype: "F16" as const, shape: [2, 2, 2], data: f16 },
    { name: "w.bf16", dtype: "BF16" as const, shape: [6], data: bf16 },
    { name: "scalar", dtype: "F32" as const, shape: [], data: new Float32Array([7]) },
    { name: "empty", dtype: "F32" as const, shape: [0, 4], data: new Float32Array(0) },
    { name: "123", dtype: "F32" as const, shape: [1], data: new Float32Array([9]) },
    { name: "__proto__", dtype: "I32" as const, shape: [1], data: new Int32Array([5]) },
  ];
  const bytes = serializeSafetensors(tensors, { format: "pt", note: 'é "quoted"' });
  const f = parseSafetensors(bytes, "roundtrip");
  assertConsistent(f, bytes, "roundtrip");
  assertEquals(f.metadata, { format: "pt", note: 'é "quoted"' });
  assertEquals(f.tensors.size, tensors.length);
  for (const t of tensors) {
    const got = f.tensors.get(t.name);
    assert(got, `missing ${t.name}`);
    assertEquals(got.dtype, t.dtype, t.name);
    assertEquals(got.shape, t.shape, t.name);
    assert(bitsEqual(got.data, t.data), `${t.name}: bytes differ`);
  }
  assert(bitsEqual(toFloat32(f.tensors.get("w.f32")!), f32), "toFloat32 keeps F32 bits");
  assert(bitsEqual(toInt32(f.tensors.get("w.i32")!), i32), "toInt32 keeps I32");
  // I64 written from an Int32Array is widened
  const wide = parseSafetensors(
    serializeSafetensors([{ name: "ids", dtype: "I64", shape: [3], data: new Int32Array([-100, 0, 101]) }]),
    "wide",
  );
  assertEquals(Array.from(toInt32(wide.tensors.get("ids")!)), [-100, 0, 101]);
  assertEquals(wide.tensors.get("ids")!.data.length, 24);
});

Deno.test("safetensors: serialize rejects inconsistent tensors", () => {
  const f = new Float32Array(4);
  assertThrows(
    () => serializeSafetensors([{ name: "x", dtype: "F32", shape: [3], data: f }]),
    SafetensorsError,
    '"x": shape [3] does not match 4 elements',
  );
  assertThrows(
    () => serializeSafetensors([{ name: "x", dtype: "I32", shape: [4], data: f }]),
    SafetensorsError,
    "I32 data must be Int32Array",
  );
  assertThrows(
    () =>
      serializeSafetensors([{ name: "x", dtype: "F32", shape: [4], data: f }, {
        name: "x",
        dtype: "F32",
        shape: [4],
        data: f,
      }]),
    SafetensorsError,
    "given twice",
  );
  assertThrows(
    () => serializeSafetensors([{ name: "__metadata__", dtype: "F32", shape: [4], data: f }]),
    SafetensorsError,
  );
});

Deno.test("safetensors: toFloat32 converts every F16 pattern exactly, BF16 by bits, F64 rounded", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const t = parseSafetensors(
    buildFile([{ name: "h", dtype: "F16", shape: [65536], bytes: le(all) }]).bytes,
    "f16",
  ).tensors.get("h")!;
  const got = toFloat32(t);
  const spot: [number, number][] = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x0400, 2 ** -14],
    [0x3555, 0.333251953125],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  for (const [h, v] of spot) assertEquals(got[h], v, `f16 0x${h.toString(16)}`);
  assert(Object.is(got[0x8000], -0), "-0");
  assert(Number.isNaN(got[0x7e00]) && Number.isNaN(got[0xfc01]), "NaN");
  // Cross-check all 65536 against the runtime's own Float16Array where it exists.
  const F16 = (globalThis as unknown as { Float16Array?: new (b: ArrayBuffer) => ArrayLike<number> })
    .Float16Array;
  if (F16) {
    const ref = new F16(all.slice().buffer);
    for (let i = 0; i < 65536; i++) {
      if (!Object.is(got[i], ref[i]) && !(Number.isNaN(got[i]) && Number.isNaN(ref[i]))) {
        throw new Error(`f16 0x${i.toString(16)}: got ${got[i]}, Float16Array says ${ref[i]}`);
      }
    }
  }
  const bf = new Uint16Array([0x3f80, 0xc2f7, 0x0001, 0x7f80, 0x8000, 0x7fc1]);
  const bt = parseSafetensors(
    buildFile([{ name: "b", dtype: "BF16", shape: [6], bytes: le(bf) }]).bytes,
    "bf",
  )
    .tensors.get("b")!;
  const b32 = toFloat32(bt);
  assertEquals(Array.from(b32.subarray(0, 4)), [1, -123.5, 2 ** -133, Infinity]);
  assert(Object.is(b32[4], -0), "bf16 -0");
  assertEquals(new Uint32Array(b32.buffer)[5], 0x7fc10000, "bf16 NaN payload");
  const f64 = new Float64Array([0.1, -1e-50, 1e300, 2 ** -149]);
  const dt = parseSafetensors(
    buildFile([{ name: "d", dtype: "F64", shape: [4], bytes: le(f64) }]).bytes,
    "f64",
  )
    .tensors.get("d")!;
  assertEquals(Array.from(toFloat32(dt)), [Math.fround(0.1), -0, Infinity, 2 ** -149]);
});

Deno.test("safetensors: unaligned F32/I32 data (after an odd-sized U8 tensor) convert correctly", () => {
  const vals = new Float32Array([1.25, -2.5, 3e-7]);
  const ints = new Int32Array([-7, 1 << 30]);
  const bytes = buildFile([
    { name: "u", dtype: "U8", shape: [3], bytes: new Uint8Array([1, 2, 255]) },
    { name: "f", dtype: "F32", shape: [3], bytes: le(vals) },
    { name: "i", dtype: "I32", shape: [2], bytes: le(ints) },
  ]).bytes;
  const f = parseSafetensors(bytes, "unaligned");
  const ft = f.tensors.get("f")!;
  assert(ft.data.byteOffset % 4 !== 0, "the test needs unaligned data");
  assert(bitsEqual(toFloat32(ft), vals), "f32 values");
  assertEquals(Array.from(toInt32(f.tensors.get("i")!)), [-7, 1 << 30]);
  assertEquals(Array.from(toInt32(f.tensors.get("u")!)), [1, 2, 255]);
});

Deno.test("safetensors: toInt32 widens small ints and BOOL, narrows I64 with a range check", () => {
  const i64 = new BigInt64Array([0n, -1n, 2147483647n, -2147483648n, 101n]);
  const bytes = buildFile([
    { name: "i64", dtype: "I64", shape: [5], bytes: le(i64) },
    { name: "i16", dtype: "I16", shape: [2], bytes: le(new Int16Array([-32768, 300])) },
    { name: "i8", dtype: "I8", shape: [2], bytes: le(new Int8Array([-128, 5])) },
    { name: "b", dtype: "BOOL", shape: [3], bytes: new Uint8Array([0, 1, 0]) },
    { name: "big", dtype: "I64", shape: [2], bytes: le(new BigInt64Array([1n, 2147483648n])) },
    { name: "small", dtype: "I64", shape: [1], bytes: le(new BigInt64Array([-2147483649n])) },
  ]).bytes;
  const f = parseSafetensors(bytes, "ints");
  assertEquals(Array.from(toInt32(f.tensors.get("i64")!)), [0, -1, 2147483647, -2147483648, 101]);
  assertEquals(Array.from(toInt32(f.tensors.get("i16")!)), [-32768, 300]);
  assertEquals(Array.from(toInt32(f.tensors.get("i8")!)), [-128, 5]);
  assertEquals(Array.from(toInt32(f.tensors.get("b")!)), [0, 1, 0]);
  assertThrows(
    () => toInt32(f.tensors.get("big")!, "labels"),
    SafetensorsError,
    "labels: I64 value 2147483648",
  );
  assertThrows(() => toInt32(f.tensors.get("small")!, "ids"), SafetensorsError, "-2147483649 at index 0");
  assertThrows(() => toFloat32(f.tensors.get("i64")!, "w"), SafetensorsError, "w: cannot read dtype I64");
  assertThrows(
    () =>
      toInt32(
        parseSafetensors(
          serializeSafetensors([
            { name: "x", dtype: "F32", shape: [1], data: new Float32Array(1) },
          ]),
          "x",
        ).tensors.get("x")!,
        "x",
      ),
    SafetensorsError,
    "cannot read dtype F32 as int32",
  );
});

Deno.test("safetensors: each malformed header gives a SafetensorsError naming the file, tensor and expectation", () => {
  const good = { dtype: "F32", shape: [2], data_offsets: [0, 8] };
  const d8 = new Uint8Array(8);
  const cases: [Uint8Array, string[]][] = [
    [new Uint8Array(5), ["src.st", "shorter than the 8-byte"]],
    [rawFile({ w: good }, d8, 200_000_000n), ["exceeds the 100 MB limit"]],
    [rawFile({ w: good }, d8, 2n ** 64n - 1n), ["exceeds the 100 MB limit"]],
    [rawFile({ w: good }, d8, 1000n), ["exceeds the file size minus 8"]],
    [rawFile("{not json", d8), ["not valid JSON"]],
    [rawFile(`["w"]`, d8), ["header must be a JSON object"]],
    [rawFile({ w: { ...good, dtype: "F8_E4M3" } }, d8), [
      'tensor "w"',
      'unsupported dtype "F8_E4M3"',
      "BF16",
    ]],
    [rawFile({ w: { ...good, shape: [-2] } }, d8), ['tensor "w"', "non-negative integers"]],
    [rawFile({ w: { ...good, shape: [2.5] } }, d8), ['tensor "w"', "non-negative integers"]],
    [rawFile({ w: { ...good, shape: "2" } }, d8), ['tensor "w"', '"shape" to be an array']],
    [rawFile({ w: { dtype: "F32", shape: [2] } }, d8), ['tensor "w"', "data_offsets"]],
    [rawFile({ w: { ...good, data_offsets: [8, 0] } }, d8), ['tensor "w"', "begin > end"]],
    [rawFile({ w: { ...good, data_offsets: [0, 16] } }, d8), [
      'tensor "w"',
      "beyond the data region (8 bytes)",
    ]],
    [rawFile({ w: { ...good, shape: [3] } }, d8), ['tensor "w"', "needs 12 bytes", "hold 8"]],
    [rawFile({ w: { ...good, shape: [2 ** 53 - 1, 2 ** 53 - 1] } }, d8), [
      'tensor "w"',
      `needs ${(2n ** 53n - 1n) ** 2n * 4n} bytes`,
    ]],
    [rawFile({ w: { ...good, data_offsets: [4, 12], shape: [2] } }, new Uint8Array(12)), ['"w" starts at 4']],
    [rawFile({ w: good }, new Uint8Array(12)), ["cover 8 bytes", "holds 12", 'last tensor "w"']],
    [
      rawFile({ a: good, b: { ...good, data_offsets: [4, 12] } }, new Uint8Array(12)),
      ['tensor "b"', 'overlap tensor "a"'],
    ],
    [rawFile({ __metadata__: { format: 1 }, w: good }, d8), ['"__metadata__" value of "format"']],
    [rawFile({ __metadata__: ["pt"], w: good }, d8), ['"__metadata__" to be an object']],
    [rawFile({ w: 5 }, d8), ['tensor "w"', "expected an object"]],
  ];
  // invalid UTF-8 in the header
  const bad = rawFile('{"w":1}', d8);
  bad[10] = 0xff;
  cases.push([bad, ["not valid UTF-8"]]);
  for (const [bytes, parts] of cases) {
    let err: unknown = null;
    try {
      parseSafetensors(bytes, "src.st");
    } catch (e) {
      err = e;
    }
    assert(err instanceof SafetensorsError, `expected SafetensorsError for ${parts[0]}, got ${err}`);
    for (const p of ["src.st", ...parts]) assert(err.message.includes(p), `"${err.message}" lacks "${p}"`);
  }
});

Deno.test("safetensors: zero-size tensors anywhere and tensors in any header order are accepted", () => {
  const data = new Uint8Array(12);
  const f = parseSafetensors(
    rawFile({
      z: { dtype: "F32", shape: [0], data_offsets: [4, 4] },
      b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
      a: { dtype: "F32", shape: [], data_offsets: [0, 4] },
      __metadata__: null,
    }, data),
    "order",
  );
  assertEquals([...f.tensors.keys()], ["a", "z", "b"]);
  assertEquals(f.metadata, null);
  assertEquals(f.tensors.get("z")!.data.length, 0);
});

function fixtureDir(): string {
  const local = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;
  try {
    Deno.statSync(local + "model.safetensors");
    return local;
  } catch {
    return "/work/shared/fixtures/bert-tiny-parity/";
  }
}

Deno.test("safetensors: reads the bert-tiny parity fixture and its golden tensors", async () => {
  const dir = fixtureDir();
  const m = await readSafetensors(dir + "model.safetensors");
  assertEquals(m.metadata, { format: "pt" });
  assertEquals(m.tensors.size, 39);
  const we = m.tensors.get("bert.embeddings.word_embeddings.weight")!;
  assertEquals([we.dtype, we.shape], ["F32", [28996, 32]]);
  assertEquals(toFloat32(we).length, 28996 * 32);
  assertEquals(m.tensors.get("classifier.weight")!.shape, [9, 32]);
  for (const [name, t] of m.tensors) assertEquals(t.dtype, "F32", name);
  const g = await readSafetensors(new URL("file://" + dir + "golden.safetensors"));
  const ids = g.tensors.get("input_ids")!;
  assertEquals([ids.dtype, ids.shape], ["I64", [3, 16]]);
  const v = toInt32(ids, "input_ids");
  assertEquals([v[0], v[16], v[32]], [101, 101, 101]);
  assertEquals(v[6], 102); // first row has 7 real tokens, [SEP] last
  const labels = toInt32(g.tensors.get("labels")!);
  assertEquals(labels[0], -100);
  assertEquals(g.tensors.get("loss")!.shape, [1]);
  // Re-serializing the model (in any input order) reproduces the file written by the Python library
  // byte for byte: header order, JSON spacing, padding and data layout.
  const orig = await Deno.readFile(dir + "model.safetensors");
  const resaved = serializeSafetensors(
    [...m.tensors].reverse().map(([name, t]) => ({ name, dtype: "F32", shape: t.shape, data: toFloat32(t) })),
    { format: "pt" },
  );
  assertEquals(resaved.length, orig.length);
  assert(bitsEqual(resaved, orig), "re-serialized file differs from the fixture");
});

Deno.test("safetensors: loadShardedIndex maps keys to shard paths and names a missing shard", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-index-" });
  try {
    const s1 = serializeSafetensors([{ name: "a", dtype: "F32", shape: [1], data: new Float32Array([1]) }]);
    const s2 = serializeSafetensors([{ name: "b", dtype: "F32", shape: [1], data: new Float32Array([2]) }]);
    await Deno.writeFile(`${dir}/model-00001-of-00002.safetensors`, s1);
    await Deno.writeFile(`${dir}/model-00002-of-00002.safetensors`, s2);
    const index = {
      metadata: { total_size: 8 },
      weight_map: { b: "model-00002-of-00002.safetensors", a: "model-00001-of-00002.safetensors" },
    };
    await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, JSON.stringify(index));
    const idx = await loadShardedIndex(`${dir}/model.safetensors.index.json`);
    assertEquals(idx.shards, [
      `${dir}/model-00001-of-00002.safetensors`,
      `${dir}/model-00002-of-00002.safetensors`,
    ]);
    assertEquals(idx.weightMap.get("b"), `${dir}/model-00002-of-00002.safetensors`);
    assertEquals(idx.metadata, { total_size: 8 });
    const b = (await readSafetensors(idx.weightMap.get("b")!)).tensors.get("b")!;
    assertEquals(Array.from(toFloat32(b)), [2]);

    index.weight_map.b = "model-00003-of-00002.safetensors";
    await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, JSON.stringify(index));
    const e = await assertRejects(
      () => loadShardedIndex(`${dir}/model.safetensors.index.json`),
      SafetensorsError,
      'tensor "b" maps to shard "model-00003-of-00002.safetensors", which is missing',
    );
    assert(e.message.includes(dir), e.message);
    index.weight_map.b = "../escape.safetensors";
    await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, JSON.stringify(index));
    await assertRejects(
      () => loadShardedIndex(`${dir}/model.safetensors.index.json`),
      SafetensorsError,
      "shard file",
    );
    await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, `{"metadata": {}}`);
    await assertRejects(
      () => loadShardedIndex(`${dir}/model.safetensors.index.json`),
      SafetensorsError,
      "weight_map",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
