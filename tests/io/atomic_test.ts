import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { writeDirAtomic, writeFileAtomic } from "../../src/io/atomic.ts";
import { rng } from "./_safetensors_util.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "atomic-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function list(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("atomic: writeFileAtomic creates and replaces a file and leaves no temporary file", async () => {
  await withTempDir(async (dir) => {
    await writeFileAtomic(`${dir}/a.json`, '{"x": 1}');
    assertEquals(await Deno.readTextFile(`${dir}/a.json`), '{"x": 1}');
    await writeFileAtomic(`${dir}/a.json`, new Uint8Array([1, 2, 3]));
    assertEquals([...await Deno.readFile(`${dir}/a.json`)], [1, 2, 3]);
    await writeFileAtomic(`${dir}/empty`, new Uint8Array(0));
    assertEquals((await Deno.stat(`${dir}/empty`)).size, 0);
    assertEquals(await list(dir), ["a.json", "empty"]);
  });
});

Deno.test("atomic: a failed writeFileAtomic keeps the old content and removes its temporary file", async () => {
  await withTempDir(async (dir) => {
    // The target is a non-empty folder: the final rename fails after the temporary file is written.
    await Deno.mkdir(`${dir}/target`);
    await Deno.writeTextFile(`${dir}/target/keep`, "old");
    await assertRejects(() => writeFileAtomic(`${dir}/target`, "new"));
    assertEquals(await Deno.readTextFile(`${dir}/target/keep`), "old");
    assertEquals(await list(dir), ["target"]);
    await assertRejects(() => writeFileAtomic(`${dir}/missing/x`, "new"), Deno.errors.NotFound);
  });
});

Deno.test("atomic: writeDirAtomic writes a folder, replaces an existing one whole, leaves nothing else", async () => {
  await withTempDir(async (dir) => {
    const ckpt = `${dir}/runs/checkpoint-1`;
    await writeDirAtomic(ckpt, {
      "config.json": "{}",
      "model.safetensors": new Uint8Array([9, 9]),
      "sub/x.txt": "x",
    });
    assertEquals(await list(ckpt), ["config.json", "model.safetensors", "sub"]);
    assertEquals(await Deno.readTextFile(`${ckpt}/sub/x.txt`), "x");
    await writeDirAtomic(ckpt, { "config.json": '{"v": 2}' });
    assertEquals(await list(ckpt), ["config.json"]); // the old folder's other files are gone
    assertEquals(await Deno.readTextFile(`${ckpt}/config.json`), '{"v": 2}');
    assertEquals(await list(`${dir}/runs`), ["checkpoint-1"]);
  });
});

Deno.test("atomic: a failed writeDirAtomic leaves the previous folder untouched", async () => {
  await withTempDir(async (dir) => {
    const ckpt = `${dir}/ckpt`;
    await writeDirAtomic(ckpt, { "a.txt": "old" });
    // "a" as a file and then "a/b" as a path inside it: fails half way through writing the new folder
    await assertRejects(() => writeDirAtomic(ckpt, { "new.txt": "n", "a": "file", "a/b": "x" }));
    assertEquals(await list(ckpt), ["a.txt"]);
    assertEquals(await Deno.readTextFile(`${ckpt}/a.txt`), "old");
    assertEquals(await list(dir), ["ckpt"]);
    await assertRejects(() => writeDirAtomic(ckpt, { "../escape": "x" }), Error, "not a relative file path");
    await assertRejects(() => writeDirAtomic(ckpt, { "/abs": "x" }), Error, "not a relative file path");
    assertEquals(await list(dir), ["ckpt"]);
  });
});

/** Reads lines from the child's stdout until `count` "writing" lines have been seen. */
async function waitForWrites(reader: ReadableStreamDefaultReader<string>, count: number): Promise<void> {
  let seen = 0, buf = "";
  while (seen < count) {
    const { value, done } = await reader.read();
    if (done) throw new Error("child exited early");
    buf += value;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    seen += lines.filter((l) => l.startsWith("writing ")).length;
  }
}

Deno.test("atomic: SIGKILL while rewriting a large file leaves the old or the new file, never a partial one", async () => {
  const SIZE = 24 << 20;
  const child = new URL("./_atomic_child.ts", import.meta.url).pathname;
  const r = rng(7);
  await withTempDir(async (dir) => {
    const path = `${dir}/model.safetensors`;
    await writeFileAtomic(path, new Uint8Array(SIZE)); // version 0: all zero bytes
    let killedMidWrite = 0;
    const values = new Set<number>();
    for (let round = 0; round < 5; round++) {
      const proc = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-write", child, path, String(SIZE)],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
      try {
        await waitForWrites(reader, 1 + Math.floor(r() * 2));
        await new Promise((res) => setTimeout(res, Math.floor(r() * 120)));
      } finally {
        proc.kill("SIGKILL");
        await proc.status;
        while (!(await reader.read()).done) { /* drain */ }
      }
      const status = await proc.status;
      assertEquals(status.signal, "SIGKILL", `round ${round}: killed`);
      const bytes = await Deno.readFile(path);
      assertEquals(bytes.length, SIZE, `round ${round}: file size`);
      const v = bytes[0];
      for (let i = 0; i < bytes.length; i += 4096) {
        if (bytes[i] !== v || bytes[Math.min(i + 4095, bytes.length - 1)] !== v) {
          throw new Error(`round ${round}: file mixes versions at byte ${i}`);
        }
      }
      assert(bytes.every((b) => b === v), `round ${round}: one version throughout`);
      values.add(v);
      const stray = (await list(dir)).filter((n) => n.startsWith(".model.safetensors.tmp-"));
      if (stray.length) killedMidWrite++;
      for (const s of stray) await Deno.remove(`${dir}/${s}`);
    }
    // The kills must have hit the dangerous window (a temporary file being written) at least once,
    // and the file must have moved on from version 0 (the child really replaced it).
    assert(killedMidWrite > 0, "no kill landed during a write; the test did not exercise the crash");
    assert([...values].some((v) => v !== 0), "the child never completed a write");
  });
});
