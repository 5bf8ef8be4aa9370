// `deno task parity` with a missing or wrong golden file: one line naming the file, exit 1 (it used to
// print an uncaught stack trace).
import { assert, assertEquals } from "../_assert.ts";

const CLI = new URL("../../src/model/parity.ts", import.meta.url).pathname;
const FIXTURE = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;

Deno.test("parity CLI: missing golden, not a safetensors file, no golden.json beside it → one line, exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${FIXTURE}golden.safetensors`, `${dir}/golden.safetensors`);
    const cases: [string, string][] = [
      [`${dir}/missing.safetensors`, `${dir}/missing.safetensors`],
      [`${FIXTURE}config.json`, "not safetensors"],
      [`${dir}/golden.safetensors`, `${dir}/golden.json: missing`],
    ];
    for (const [golden, includes] of cases) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-env", CLI, "--model", FIXTURE, "--golden", golden],
        env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr).replace(/.*XDG_RUNTIME_DIR.*\n/g, "").trimEnd();
      assertEquals(out.code, 1, err);
      assertEquals(err.split("\n").length, 1, err);
      assert(err.startsWith("parity: ") && err.includes(includes) && !err.includes("Uncaught"), err);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parity CLI: --matmul-path takes a GEMM path; an unknown one is one line, exit 2", async () => {
  const run = (path: string) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        CLI,
        "--model",
        FIXTURE,
        "--golden",
        `${FIXTURE}golden.safetensors`,
        "--matmul-path",
        path,
      ],
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const bad = await run("fast");
  const err = new TextDecoder().decode(bad.stderr).replace(/.*XDG_RUNTIME_DIR.*\n/g, "").trimEnd();
  assertEquals(bad.code, 2, err);
  assertEquals(
    err,
    "parity: --matmul-path 'fast' is not one of auto, texture, texture-pack, generic, shared",
  );
  const ok = await run("shared");
  const out = new TextDecoder().decode(ok.stdout);
  assertEquals(ok.code, 0, new TextDecoder().decode(ok.stderr));
  assertEquals(JSON.parse(out).tensors_compared, 80);
});
