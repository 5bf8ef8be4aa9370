// Crash-safe folder writes on a FileStore without its own (MemoryStore here; OpfsStore in the browser
// test): staged then committed, a failure while staging changes nothing, a "crash" after the commit record
// is rolled forward by recoverCommits, one before it is discarded; Deno's store keeps writeDirAtomic.
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { type FileStore, MemoryStore } from "../../src/io/storage.ts";
import { DenoFileStore } from "../../src/io/deno_store.ts";
import {
  appendText,
  listFiles,
  recoverCommits,
  resolveStoreFolder,
  writeDirCommitted,
  writeFilesCommitted,
} from "../../src/io/store_files.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = async (s: FileStore, p: string) => dec.decode(await s.readFile(p));

/** A MemoryStore whose writes or renames fail from the n-th call on (a full disk, a closed page). */
function failing(opts: { writeAt?: number; renameAt?: number }): MemoryStore {
  const s = new MemoryStore();
  let writes = 0, renames = 0;
  const write = s.writeFile.bind(s), rename = s.rename.bind(s);
  s.writeFile = (p, d) => ++writes === opts.writeAt ? Promise.reject(new Error("disk full")) : write(p, d);
  s.rename = (a, b) =>
    ++renames >= (opts.renameAt ?? Infinity) ? Promise.reject(new Error("closed")) : rename(a, b);
  return s;
}

async function seedOld(s: MemoryStore): Promise<void> {
  await s.writeFile("out/checkpoint-2/a.json", enc.encode("old a"));
  await s.writeFile("out/checkpoint-2/old_only.txt", enc.encode("old"));
  await s.writeFile("out/train_log.jsonl", enc.encode("{}\n"));
}

const NEW = { "a.json": "new a", "sub/b.bin": new Uint8Array([1, 2, 3]), "c.txt": "c" };

Deno.test("writeDirCommitted: a MemoryStore folder is replaced as a whole, nothing staged is left", async () => {
  const s = new MemoryStore();
  await seedOld(s);
  await writeDirCommitted(s, "out/checkpoint-2", NEW);
  assertEquals(await listFiles(s, "out/checkpoint-2"), ["a.json", "c.txt", "sub/b.bin"]);
  assertEquals(await text(s, "out/checkpoint-2/a.json"), "new a");
  assertEquals([...await s.readFile("out/checkpoint-2/sub/b.bin")], [1, 2, 3]);
  assertEquals(await s.list("out"), ["checkpoint-2", "train_log.jsonl"]);
  await assertRejects(() => writeDirCommitted(s, "out/x", { "../escape": "x" }), RangeError, "bad file name");
});

Deno.test("writeDirCommitted: a write failing while staging leaves the old folder and no stage", async () => {
  const s = failing({ writeAt: 5 }); // 3 seed writes, then the 2nd staged file fails
  await seedOld(s);
  await assertRejects(() => writeDirCommitted(s, "out/checkpoint-2", NEW), Error, "disk full");
  assertEquals(await listFiles(s, "out"), [
    "checkpoint-2/a.json",
    "checkpoint-2/old_only.txt",
    "train_log.jsonl",
  ]);
  assertEquals(await text(s, "out/checkpoint-2/a.json"), "old a");
});

Deno.test("recoverCommits: a commit cut after its record is rolled forward; an undecided stage is removed", async () => {
  const s = failing({ renameAt: 2 }); // the first file is moved in, then the page "closes"
  await seedOld(s);
  await assertRejects(() => writeDirCommitted(s, "out/checkpoint-2", NEW), Error, "closed");
  const left = await s.list("out");
  assert(left.some((n) => /^checkpoint-2\.tmp-[0-9a-z]+\.commit$/.test(n)), `no commit record: ${left}`);
  // An undecided stage beside it (a page closed while staging).
  await s.writeFile("out/checkpoint-4.tmp-abc123/model.safetensors", enc.encode("partial"));
  s.rename = MemoryStore.prototype.rename.bind(s); // the next page's store works
  const handled = await recoverCommits(s, "out");
  assertEquals(handled.length, 2, `${handled}`);
  assertEquals(await s.list("out"), ["checkpoint-2", "train_log.jsonl"]);
  assertEquals(await listFiles(s, "out/checkpoint-2"), ["a.json", "c.txt", "sub/b.bin"]);
  assertEquals(await text(s, "out/checkpoint-2/c.txt"), "c");
  assertEquals(await recoverCommits(s, "out"), []); // idempotent
});

Deno.test("writeFilesCommitted: files go into a folder all or nothing, other files stay; reads finish a cut commit", async () => {
  const s = new MemoryStore();
  await seedOld(s);
  await writeFilesCommitted(s, "out", { "config.json": "{}", "model.safetensors": new Uint8Array([7]) });
  assertEquals(await s.list("out"), ["checkpoint-2", "config.json", "model.safetensors", "train_log.jsonl"]);
  await assertRejects(() => writeFilesCommitted(s, "out", { "sub/x": "x" }), RangeError);
  await assertRejects(() => writeFilesCommitted(s, "out", { ".hidden": "x" }), RangeError);
  // Cut after the record: resolving the folder (as fromPretrained does) finishes the commit first.
  const cut = failing({ renameAt: 1 });
  await cut.writeFile("m/config.json", enc.encode("old"));
  await assertRejects(() =>
    writeFilesCommitted(cut, "m", { "config.json": "new", "model.safetensors": "w" })
  );
  cut.rename = MemoryStore.prototype.rename.bind(cut);
  const r = await resolveStoreFolder(cut, "m", ["config.json", "model.safetensors"], new Set());
  assertEquals(r.files, { "config.json": "m/config.json", "model.safetensors": "m/model.safetensors" });
  assertEquals(await text(cut, "m/config.json"), "new");
  assertEquals(await cut.list("m"), ["config.json", "model.safetensors"]);
  await assertRejects(
    () => resolveStoreFolder(cut, "m", ["vocab.txt"], new Set()),
    Error,
    "m: missing vocab.txt in the MemoryStore (the folder holds config.json, model.safetensors)",
  );
});

Deno.test("MemoryStore: rename of files and folders, remove, append; appendText without appendFile", async () => {
  const s = new MemoryStore();
  await s.writeFile("a/x", enc.encode("1"));
  await s.writeFile("a/y/z", enc.encode("2"));
  await s.writeFile("b", enc.encode("3"));
  await s.rename("a", "c");
  assertEquals(await listFiles(s, "c"), ["x", "y/z"]);
  assertEquals(await s.exists("a/x"), false);
  await s.rename("b", "c/x"); // a file replaces a file
  assertEquals(await text(s, "c/x"), "3");
  await assertRejects(() => s.rename("c/x", "c/y"), Error, "is a folder");
  await assertRejects(() => s.rename("nothing", "d"), Error, "not found");
  await s.remove("c/y");
  assertEquals(await s.list("c"), ["x"]);
  await s.remove("missing"); // not an error
  await appendText(s, "log", "a\n");
  await appendText(s, "log", "b\n");
  assertEquals(await text(s, "log"), "a\nb\n");
  const plain: FileStore = {
    readFile: (p) => s.readFile(p),
    writeFile: (p, d) => s.writeFile(p, d),
    exists: (p) => s.exists(p),
    list: (d) => s.list(d),
    remove: (p) => s.remove(p),
    rename: (a, b) => s.rename(a, b),
  };
  await appendText(plain, "log2", "x");
  await appendText(plain, "log2", "y");
  assertEquals(await text(s, "log2"), "xy");
});

Deno.test("DenoFileStore: folder writes keep writeDirAtomic/writeFilesStaged (no commit records on disk)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const s = new DenoFileStore();
    await s.writeFile(`${dir}/out/checkpoint-2/old_only.txt`, enc.encode("old"));
    await writeDirCommitted(s, `${dir}/out/checkpoint-2`, NEW);
    await writeFilesCommitted(s, `${dir}/out`, { "config.json": "{}" });
    assertEquals(await s.list(`${dir}/out`), ["checkpoint-2", "config.json"]);
    assertEquals(await listFiles(s, `${dir}/out/checkpoint-2`), ["a.json", "c.txt", "sub/b.bin"]);
    assertEquals(await recoverCommits(s, `${dir}/out`), []);
    await appendText(s, `${dir}/new/log.jsonl`, "a");
    await appendText(s, `${dir}/new/log.jsonl`, "b");
    assertEquals(await Deno.readTextFile(`${dir}/new/log.jsonl`), "ab");
    assertEquals(await s.list(`${dir}/none`), []);
    await s.remove(`${dir}/none`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
