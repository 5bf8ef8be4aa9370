// mod.ts must work when imported from a URL (deno.json's import map does not apply there): serve the repo
// on 127.0.0.1 and run a kernel through `import … from "http://127.0.0.1:PORT/mod.ts"` in a subprocess.
import { assertEquals } from "./_assert.ts";
import { serving } from "./_serve.ts";

const root = new URL("../", import.meta.url);

Deno.test("mod.ts imported from an http URL runs a GPU kernel", async () => {
  await serving(root, async (base) => {
    const script = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(
      script,
      `import { add, initGpu, Tensor } from "${base}/mod.ts";
await initGpu();
const s = add(Tensor.from([1, 2, 3], [3]), Tensor.from([10, 20, 30], [3]));
console.log(JSON.stringify([...await s.read()]));`,
    );
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", `--allow-import=${new URL(base).host}`, "--allow-read", "--allow-env", script],
        env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout).trim();
      const stderr = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 0, `subprocess failed:\n${stderr}`);
      assertEquals(stdout.split("\n").pop(), "[11,22,33]");
    } finally {
      await Deno.remove(script);
    }
  });
});
