import { assert, assertEquals } from "../_assert.ts";
import { TINY_FROM_SCRATCH } from "../_cli_args.ts";

const TRAIN = new URL("../../src/train/cli.ts", import.meta.url).pathname;
const PREDICT = new URL("../../src/pipeline/cli.ts", import.meta.url).pathname;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function run(script: string, args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("train and predict --profile print the kernel table; --profile-trace writes a Chrome trace", async () => {
  const dir = await Deno.makeTempDir();
  const trace = `${dir}/trace.json`;
  const out = await run(TRAIN, [
    ...TINY_FROM_SCRATCH,
    "--max-train-samples",
    "16",
    "--max-eval-samples",
    "8",
    "--max-steps",
    "2",
    "--output-dir",
    `${dir}/model`,
    "--profile",
    "--profile-trace",
    trace,
  ]);
  const err = text(out.stderr);
  assertEquals(out.code, 0, err);
  assert(/profile: host timing per dispatch .* over 2 step\(s\)/.test(err), err.slice(-3000));
  for (const k of ["| matmul.", "| adamw.", "| attention.", "host: js between dispatches"]) {
    assert(err.includes(k), `table has ${k}`);
  }
  const events = JSON.parse(await Deno.readTextFile(trace)).traceEvents as { ph: string; name: string }[];
  assert(events.filter((e) => e.ph === "X" && e.name.startsWith("matmul.")).length > 10, "trace has kernels");

  const p = await run(PREDICT, [
    "--model",
    `${dir}/model`,
    "--allow-untrained-head",
    "--profile",
    "John lives in Paris",
  ]);
  const perr = text(p.stderr);
  assertEquals(p.code, 0, perr);
  assert(perr.includes("profile: ") && perr.includes("| matmul."), perr.slice(-2000));
  assert(text(p.stdout).trim().startsWith("["), "predictions still on stdout");
  await Deno.remove(dir, { recursive: true });
});
