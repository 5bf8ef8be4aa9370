import { checkOutputDir, PreflightError } from "../../src/train/preflight.ts";
import { assertRejects } from "../_assert.ts";

Deno.test("preflight: a missing --output-dir given as a bare relative name or a relative path is writable", async () => {
  // `deno task demo` passes "bert-demo-ner" (no slash): its parent is the working directory.
  const dir = await Deno.makeTempDir();
  const cwd = Deno.cwd();
  try {
    Deno.chdir(dir);
    await checkOutputDir("bert-demo-ner");
    await checkOutputDir("runs/a/b");
    await checkOutputDir("./out");
    await Deno.mkdir("exists");
    await checkOutputDir("exists");
    await Deno.writeTextFile("file", "x");
    await assertRejects(() => checkOutputDir("file"), PreflightError, "exists and is not a folder");
    await assertRejects(() => checkOutputDir("file/sub"), PreflightError, "is not writable");
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
});
