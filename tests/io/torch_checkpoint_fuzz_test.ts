/**
 * Fuzz test of the pytorch_model.bin reader, as the safetensors reader is fuzzed: the real zip fixture, a
 * hand-built legacy file and their pickles are mutated a few hundred ways; reading must either succeed
 * with self-consistent tensors or throw TorchPickleError (one line, naming the file), never another
 * exception. Mutations known to be invalid (truncation, bytes changed inside a CRC-checked record,
 * appended garbage) must throw.
 */
import { assert } from "../_assert.ts";
import { parseTorchCheckpoint, TorchPickleError } from "../../src/io/torch_checkpoint.ts";
import { TORCH_DTYPE_SIZE } from "../../src/io/torch_pickle.ts";
import { openZip } from "../../src/io/zip.ts";
import { rng } from "../_util.ts";
import { bytesOf, type PickledTensor, torchLegacy, writeZip } from "./_torch_util.ts";

const ZIP = await Deno.readFile(
  new URL("../fixtures/roberta-tiny-parity/pytorch_model.bin", import.meta.url),
);
const ENTRIES = await (async () => {
  const z = openZip(ZIP, "fixture");
  const out: { name: string; data: Uint8Array }[] = [];
  for (const name of z.entries.keys()) out.push({ name, data: (await z.read(name)).slice() });
  return out;
})();
const PKL = ENTRIES.find((e) => e.name.endsWith("data.pkl"))!;
/** Byte ranges of each entry's data inside the archive (CRC-checked: a change there must fail). */
const DATA_RANGES = (() => {
  const z = openZip(ZIP, "fixture");
  const dv = new DataView(ZIP.buffer);
  return [...z.entries.values()].map((e) => {
    const start = e.localOffset + 30 + dv.getUint16(e.localOffset + 26, true) +
      dv.getUint16(e.localOffset + 28, true);
    return [start, start + e.compressedSize] as const;
  }).filter(([a, b]) => b > a);
})();

const LEGACY = (() => {
  const f = { key: "0", type: "FloatStorage", numel: 6 };
  const tensors: PickledTensor[] = [
    { key: "a", storage: f, offset: 0, size: [2, 3], stride: [3, 1] },
    { key: "a.T", storage: f, offset: 0, size: [3, 2], stride: [1, 3] },
    { key: "h", storage: { key: "1", type: "HalfStorage", numel: 2 }, offset: 1, size: [1], stride: [1] },
  ];
  const data = new Map([
    ["0", { bytes: bytesOf(new Float32Array([1, 2, 3, 4, 5, 6])), elemSize: 4 }],
    ["1", { bytes: bytesOf(new Uint16Array([0x3c00, 0x4000])), elemSize: 2 }],
  ]);
  return torchLegacy(tensors, data);
})();

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

interface Mutant {
  kind: string;
  bytes: Uint8Array;
  mustFail: boolean;
}

function flip(src: Uint8Array, r: () => number, lo = 0, hi = src.length, count = 1 + Math.floor(r() * 4)) {
  const m = src.slice();
  for (let k = 0; k < count; k++) m[lo + Math.floor(r() * (hi - lo))] ^= 1 + Math.floor(r() * 255);
  return m;
}

async function mutate(i: number): Promise<Mutant> {
  const r = rng(7000 + i);
  switch (i % 9) {
    case 0:
      return { kind: "truncate zip", bytes: ZIP.slice(0, Math.floor(r() * ZIP.length)), mustFail: true };
    case 1: {
      const [a, b] = pick(r, DATA_RANGES);
      return { kind: "flip inside a record", bytes: flip(ZIP, r, a, b), mustFail: true };
    }
    case 2:
      return { kind: "flip anywhere in the zip", bytes: flip(ZIP, r), mustFail: false };
    case 3: { // the pickle itself garbled, re-zipped with a valid CRC so the pickle reader sees it
      const pkl = r() < 0.5 ? flip(PKL.data, r) : PKL.data.slice(0, Math.floor(r() * PKL.data.length));
      const entries = ENTRIES.map((e) => e === PKL ? { name: e.name, data: pkl } : e);
      return { kind: "garbled data.pkl", bytes: await writeZip(entries), mustFail: false };
    }
    case 4: { // one pickle opcode replaced by a random byte
      const pkl = PKL.data.slice();
      pkl[Math.floor(r() * pkl.length)] = Math.floor(r() * 256);
      const entries = ENTRIES.map((e) => e === PKL ? { name: e.name, data: pkl } : e);
      return { kind: "byte in data.pkl", bytes: await writeZip(entries), mustFail: false };
    }
    case 5: { // a storage record of another length
      const victim = pick(r, ENTRIES.filter((e) => e.name.includes("/data/")));
      const len = Math.max(0, victim.data.length + pick(r, [-4, -1, 1, 4, -victim.data.length]));
      const entries = ENTRIES.map((e) => e === victim ? { name: e.name, data: new Uint8Array(len) } : e);
      return { kind: "storage length", bytes: await writeZip(entries), mustFail: true };
    }
    case 6:
      return {
        kind: "truncate legacy",
        bytes: LEGACY.slice(0, Math.floor(r() * LEGACY.length)),
        mustFail: true,
      };
    case 7:
      return { kind: "flip legacy", bytes: flip(LEGACY, r), mustFail: false };
    default: {
      const garbage = new Uint8Array(Math.floor(r() * 300));
      for (let k = 0; k < garbage.length; k++) garbage[k] = Math.floor(r() * 256);
      const what = pick(r, ["random", "zip+garbage", "pickle+garbage"]);
      if (what === "zip+garbage") {
        const m = new Uint8Array(ZIP.length + garbage.length + 1);
        m.set(ZIP);
        m.set(garbage, ZIP.length + 1);
        return { kind: "appended", bytes: m, mustFail: true };
      }
      if (what === "pickle+garbage") garbage[0] = 0x80;
      return { kind: what, bytes: garbage, mustFail: false };
    }
  }
}

Deno.test("fuzz: mutated pytorch_model.bin files read consistently or fail with TorchPickleError", async () => {
  let failed = 0;
  let passed = 0;
  for (let i = 0; i < 360; i++) {
    const m = await mutate(i);
    try {
      const ck = await parseTorchCheckpoint(m.bytes, "fuzz.bin");
      assert(!m.mustFail, `mutant ${i} (${m.kind}) was accepted`);
      for (const [key, t] of ck.tensors) {
        const n = t.shape.reduce((a, b) => a * b, 1);
        assert(
          t.data.length === n * TORCH_DTYPE_SIZE[t.dtype as keyof typeof TORCH_DTYPE_SIZE],
          `${key}: size`,
        );
      }
      passed++;
    } catch (e) {
      if (!(e instanceof TorchPickleError)) {
        throw new Error(`mutant ${i} (${m.kind}) threw ${(e as Error)?.constructor?.name}: ${e}`);
      }
      assert(e.message.startsWith("fuzz.bin"), `mutant ${i}: error names the file: ${e.message}`);
      assert(!e.message.includes("\n"), `mutant ${i}: one line`);
      failed++;
    }
  }
  // both outcomes occur, so the harness is not vacuous
  assert(failed > 100 && passed > 5, `failed ${failed}, passed ${passed}`);
});
