// The final model folder is written all or nothing: a write failing part-way (a full disk) leaves the
// folder's previous files untouched and no staging folder behind; a complete write replaces them.
import { assertEquals, assertRejects } from "../_assert.ts";
import { writeFilesStaged } from "../../src/io/staged_write.ts";

Deno.test("writeFilesStaged: a failure on the third file changes nothing; success replaces every file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/checkpoint-5`);
    await Deno.writeTextFile(`${dir}/config.json`, "old config");
    await Deno.writeTextFile(`${dir}/model.safetensors`, "old weights");
    const files = {
      "config.json": "new config",
      "model.safetensors": new Uint8Array([1, 2]),
      "README.md": "card",
    };
    let n = 0;
    const full = async (path: string, data: Uint8Array) => {
      if (++n === 3) throw new Deno.errors.WriteZero("No space left on device (os error 28)");
      await Deno.writeFile(path, data);
    };
    await assertRejects(
      () => writeFilesStaged(dir, files, { write: full }),
      Deno.errors.WriteZero,
      "No space",
    );
    const names = () => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(names(), ["checkpoint-5", "config.json", "model.safetensors"]);
    assertEquals(await Deno.readTextFile(`${dir}/config.json`), "old config");
    await writeFilesStaged(dir, files);
    assertEquals(names(), ["README.md", "checkpoint-5", "config.json", "model.safetensors"]);
    assertEquals(await Deno.readTextFile(`${dir}/config.json`), "new config");
    assertEquals(await Deno.readFile(`${dir}/model.safetensors`), new Uint8Array([1, 2]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
