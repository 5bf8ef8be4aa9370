/**
 * pytorch_model.bin reading: the shared RoBERTa fixture (written by torch 1.13's torch.save, zip format)
 * against its model.safetensors, hand-built zip (stored and deflated) and legacy files, and refusals.
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  parseTorchCheckpoint,
  readTorchCheckpoint,
  TorchPickleError,
} from "../../src/io/torch_checkpoint.ts";
import { readSafetensors } from "../../src/io/safetensors.ts";
import {
  bytesOf,
  type PickledTensor,
  PickleWriter,
  stateDictPickle,
  torchLegacy,
  torchZip,
  writeZip,
} from "./_torch_util.ts";

const FIXTURE = new URL("../fixtures/roberta-tiny-parity/", import.meta.url).pathname;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

Deno.test("roberta fixture: pytorch_model.bin gives model.safetensors bit for bit, with golden.json's layouts", async () => {
  const bin = await readTorchCheckpoint(`${FIXTURE}pytorch_model.bin`);
  const st = await readSafetensors(`${FIXTURE}model.safetensors`);
  const golden = JSON.parse(await Deno.readTextFile(`${FIXTURE}golden.json`)).pytorch_model_bin;
  assertEquals(bin.format, "zip");
  assertEquals(bin.tensors.size, golden.n_keys);
  assertEquals(new Set([...bin.layouts.values()].map((l) => l.storage)).size, golden.n_storages);
  for (const [key, t] of st.tensors) {
    const b = bin.tensors.get(key);
    assert(b, `${key} missing from the .bin`);
    assertEquals(b.dtype, t.dtype, key);
    assertEquals(b.shape, t.shape, key);
    assert(sameBytes(b.data, t.data), `${key}: bytes differ from model.safetensors`);
  }
  for (const v of golden.views_or_noncontiguous) {
    const l = bin.layouts.get(v.key)!;
    assertEquals([l.offset, l.stride, l.storageNumel], [v.storage_offset, v.stride, v.storage_numel], v.key);
  }
  for (const group of golden.shared_storages as string[][]) {
    assertEquals(new Set(group.map((k) => bin.layouts.get(k)!.storage)).size, 1, group.join());
  }
  // the extra keys: an int64 buffer and the tied MLM decoder
  const pos = bin.tensors.get("roberta.embeddings.position_ids")!;
  assertEquals([pos.dtype, pos.shape], ["I64", [1, 66]]);
  const ids = new BigInt64Array(pos.data.slice().buffer);
  assert(ids.every((v, i) => v === BigInt(i)), "position_ids is arange(66)");
  const tied = bin.tensors.get("lm_head.decoder.weight")!;
  assert(sameBytes(tied.data, st.tensors.get("roberta.embeddings.word_embeddings.weight")!.data));
});

/** A 2×3 f32 storage `s0` viewed as is and transposed, an f16 and a bf16 tensor, a slice and a broadcast. */
function handMade(): {
  tensors: PickledTensor[];
  storages: Map<string, Uint8Array>;
  sizes: Map<string, number>;
} {
  const s0 = new Float32Array([1, 2, 3, 4, 5, 6]);
  const s1 = new Uint16Array([0x3c00, 0xc000, 0x7bff]); // f16 1, -2, 65504
  const s2 = new Uint16Array([0x3f80, 0x4049]); // bf16 1, 3.140625
  const s3 = new BigInt64Array([7n, -8n]);
  const storages = new Map([["0", bytesOf(s0)], ["1", bytesOf(s1)], ["2", bytesOf(s2)], ["3", bytesOf(s3)]]);
  const sizes = new Map([["0", 4], ["1", 2], ["2", 2], ["3", 8]]);
  const f = { key: "0", type: "FloatStorage", numel: 6 };
  const tensors: PickledTensor[] = [
    { key: "w", storage: f, offset: 0, size: [2, 3], stride: [3, 1] },
    { key: "w.T", storage: f, offset: 0, size: [3, 2], stride: [1, 3] },
    { key: "row1", storage: f, offset: 3, size: [3], stride: [1] },
    { key: "col2", storage: f, offset: 2, size: [2, 1], stride: [3, 1] },
    { key: "bcast", storage: f, offset: 1, size: [2, 2], stride: [0, 1] },
    { key: "h", storage: { key: "1", type: "HalfStorage", numel: 3 }, offset: 0, size: [3], stride: [1] },
    { key: "b", storage: { key: "2", type: "BFloat16Storage", numel: 2 }, offset: 1, size: [], stride: [] },
    {
      key: "ids",
      storage: { key: "3", type: "LongStorage", numel: 2 },
      offset: 0,
      size: [1, 2],
      stride: [2, 1],
    },
  ];
  return { tensors, storages, sizes };
}

function checkHandMade(ck: Awaited<ReturnType<typeof parseTorchCheckpoint>>) {
  const f32 = (k: string) => Array.from(new Float32Array(ck.tensors.get(k)!.data.slice().buffer));
  assertEquals(f32("w"), [1, 2, 3, 4, 5, 6]);
  assertEquals(f32("w.T"), [1, 4, 2, 5, 3, 6]); // element [i][j] = storage[i + 3j]
  assertEquals(f32("row1"), [4, 5, 6]);
  assertEquals(f32("col2"), [3, 6]);
  assertEquals(f32("bcast"), [2, 3, 2, 3]);
  assertEquals(ck.tensors.get("w.T")!.shape, [3, 2]);
  const h = ck.tensors.get("h")!;
  assertEquals([h.dtype, Array.from(new Uint16Array(h.data.slice().buffer))], ["F16", [
    0x3c00,
    0xc000,
    0x7bff,
  ]]);
  const b = ck.tensors.get("b")!;
  assertEquals([b.dtype, b.shape, Array.from(new Uint16Array(b.data.slice().buffer))], ["BF16", [], [
    0x4049,
  ]]);
  const ids = ck.tensors.get("ids")!;
  assertEquals([ids.dtype, Array.from(new BigInt64Array(ids.data.slice().buffer))], ["I64", [7n, -8n]]);
  assertEquals(ck.layouts.get("w.T")!.storage, ck.layouts.get("w")!.storage);
}

Deno.test("hand-built zip checkpoints, stored and deflated: views, transposes, broadcasts, dtypes", async () => {
  const { tensors, storages } = handMade();
  for (const deflate of [false, true]) {
    const bytes = await torchZip(tensors, storages, { prefix: "my_model", deflate });
    const ck = await parseTorchCheckpoint(bytes, "hand.bin");
    assertEquals(ck.format, "zip");
    checkHandMade(ck);
  }
});

Deno.test("hand-built legacy (pre-zip) checkpoint reads the same", async () => {
  const { tensors, storages, sizes } = handMade();
  const data = new Map([...storages].map(([k, b]) => [k, { bytes: b, elemSize: sizes.get(k)! }]));
  const bytes = torchLegacy(tensors, data);
  assertEquals(bytes[0], 0x80); // starts with the magic number's pickle, no zip header
  const ck = await parseTorchCheckpoint(bytes, "legacy.bin");
  assertEquals(ck.format, "legacy");
  checkHandMade(ck);
  // its storage records are counted: one byte missing is a clear error
  await assertRejects(
    () => parseTorchCheckpoint(bytes.slice(0, -1), "legacy.bin"),
    TorchPickleError,
    "legacy.bin",
  );
});

/** A data.pkl in a zip whose pickle is `body`. */
function zipWithPickle(body: Uint8Array): Promise<Uint8Array> {
  return writeZip([{ name: "evil/data.pkl", data: body }, {
    name: "evil/version",
    data: new Uint8Array([51]),
  }]);
}

Deno.test("refuses globals outside the torch.save subset, naming the file and the global", async () => {
  const cases: [Uint8Array, string][] = [
    [
      new PickleWriter().proto(2).global("os", "system").str("echo pwned").tupleN(1).reduce().stop().bytes(),
      "os.system",
    ],
    [
      new PickleWriter().proto(2).global("builtins", "eval").str("1+1").tupleN(1).reduce().stop().bytes(),
      "builtins.eval",
    ],
    [new PickleWriter().proto(4).str("posix").str("system").raw(0x93).stop().bytes(), "posix.system"], // STACK_GLOBAL
    [new PickleWriter().proto(2).global("torch", "load").stop().bytes(), "torch.load"],
    [
      new PickleWriter().proto(2).global("collections", "OrderedDictX").stop().bytes(),
      "collections.OrderedDictX",
    ],
  ];
  for (const [pkl, name] of cases) {
    const e = await assertRejects(
      () => zipWithPickle(pkl).then((z) => parseTorchCheckpoint(z, "evil.bin")),
      TorchPickleError,
    );
    assert(e.message.includes("evil.bin") && e.message.includes(`refusing global ${name}`), e.message);
    assert(!e.message.includes("\n"), "one line");
  }
});

Deno.test("refuses opcodes outside the subset and calls of non-callables", async () => {
  const cases: [Uint8Array, string][] = [
    [
      new PickleWriter().proto(2).raw(0x69, ...new TextEncoder().encode("os\nsystem\n")).stop().bytes(),
      "INST",
    ],
    [new PickleWriter().proto(2).mark().raw(0x6f).stop().bytes(), "OBJ"],
    [new PickleWriter().proto(2).emptyTuple().emptyTuple().raw(0x81).stop().bytes(), "NEWOBJ"],
    [new PickleWriter().proto(2).raw(0x82, 1).stop().bytes(), "EXT1"],
    [new PickleWriter().proto(2).raw(0xfe).stop().bytes(), "unknown pickle opcode 0xfe"],
    [
      new PickleWriter().proto(2).global("torch", "FloatStorage").emptyTuple().reduce().stop().bytes(),
      "refusing to call torch.FloatStorage",
    ],
    [new PickleWriter().proto(2).str("x").persid().stop().bytes(), "persistent id"],
    [new PickleWriter().proto(2).int(3).stop().bytes(), "expected a state dict"],
  ];
  for (const [pkl, what] of cases) {
    const e = await assertRejects(
      () => zipWithPickle(pkl).then((z) => parseTorchCheckpoint(z, "odd.bin")),
      TorchPickleError,
    );
    assert(e.message.includes("odd.bin") && e.message.includes(what), `${what}: ${e.message}`);
  }
});

Deno.test("inconsistent storages and views are clear errors", async () => {
  const f = { key: "0", type: "FloatStorage", numel: 4 };
  const data = new Map([["0", bytesOf(new Float32Array(4))]]);
  const bad: [PickledTensor[], Map<string, Uint8Array>, string][] = [
    [[{ key: "t", storage: f, offset: 2, size: [3], stride: [1] }], data, 'tensor "t": view'],
    [[{ key: "t", storage: f, offset: 0, size: [2, 2], stride: [1, 3] }], data, "reaches element 4"],
    [[{ key: "t", storage: { ...f, numel: 5 }, offset: 0, size: [4], stride: [1] }], data, "holds 16 bytes"],
    [
      [{ key: "t", storage: { ...f, key: "9" }, offset: 0, size: [4], stride: [1] }],
      data,
      'storage "9" has no record',
    ],
    [
      [{ key: "t", storage: { ...f, type: "DoubleStorage" }, offset: 0, size: [4], stride: [1] }],
      data,
      "torch.DoubleStorage",
    ],
    [
      [
        { key: "a", storage: f, offset: 0, size: [4], stride: [1] },
        { key: "b", storage: { ...f, type: "IntStorage" }, offset: 0, size: [4], stride: [1] },
      ],
      data,
      'storage "0" is referenced as I32',
    ],
    [
      [{ key: "t", storage: f, offset: 0, size: [1 << 20, 1 << 10], stride: [0, 0] }],
      data,
      "refusing to allocate",
    ],
  ];
  for (const [tensors, storages, what] of bad) {
    const bytes = await torchZip(tensors, storages);
    const e = await assertRejects(() => parseTorchCheckpoint(bytes, "bad.bin"), TorchPickleError);
    assert(e.message.includes("bad.bin") && e.message.includes(what), `${what}: ${e.message}`);
  }
});

Deno.test("legacy format: a storage view (root key, element offset, size) in the persistent id", async () => {
  // state dict {"v": view of elements 2..5 of root storage "7" (6 floats), as tensor [2, 2] at offset 1}
  const w = new PickleWriter().proto(2).global("collections", "OrderedDict").emptyTuple().reduce().mark();
  w.str("v").global("torch._utils", "_rebuild_tensor_v2").mark();
  w.mark().str("storage").global("torch", "FloatStorage").str("7").str("cpu").int(6);
  w.str("7v").int(2).int(4).tupleN(3); // view metadata: (view_key, offset, size)
  w.tuple().persid().int(1).ints([3]).ints([1]).bool(false);
  w.global("collections", "OrderedDict").emptyTuple().reduce().tuple().reduce().setitems();
  const body = w.stop().bytes();
  const plain = torchLegacy(
    [],
    new Map([["7", { bytes: bytesOf(new Float32Array([0, 1, 2, 3, 4, 5])), elemSize: 4 }]]),
  );
  // splice our state-dict pickle in place of the empty one torchLegacy wrote
  const empty = stateDictPickle([], true);
  const at = plain.findIndex((_, i) => empty.every((b, j) => plain[i + j] === b) && i > 10);
  const bytes = new Uint8Array([...plain.subarray(0, at), ...body, ...plain.subarray(at + empty.length)]);
  const ck = await parseTorchCheckpoint(bytes, "view.bin");
  // view = root[2..6) = [2, 3, 4, 5]; tensor offset 1, size 3 → [3, 4, 5]
  assertEquals(Array.from(new Float32Array(ck.tensors.get("v")!.data.slice().buffer)), [3, 4, 5]);
  assertEquals(ck.layouts.get("v")!.offset, 3);
});
