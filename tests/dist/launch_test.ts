// `deno task launch --num-processes 2 -- --from-scratch …`: trains on 2 ranks, rank 0 saves once,
// resumes with 2 processes; resuming with 1 is refused; `deno task train` under a bare mpiexec says how.
import { assert, assertEquals } from "../_assert.ts";
import { TINY_FROM_SCRATCH } from "../_cli_args.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SMALL = [
  ...TINY_FROM_SCRATCH,
  "--max-train-samples",
  "32",
  "--per-device-train-batch-size",
  "4",
  "--eval-strategy",
  "no",
  "--save-strategy",
  "steps",
  "--save-steps",
  "2",
  "--logging-steps",
  "1",
  "--learning-rate",
  "1e-3",
];

async function task(args: string[], cmd = Deno.execPath()) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("launch: 2 ranks train from scratch, rank 0 saves once, resume continues (and is refused with 1 process)", async () => {
  const dir = await Deno.makeTempDir();
  const first = await task([
    "task",
    "launch",
    "--num-processes",
    "2",
    "--",
    ...SMALL,
    "--max-steps",
    "2",
    "--output-dir",
    dir,
  ]);
  assertEquals(first.code, 0, first.stderr);
  const results = first.stdout.split("\n").filter((l) => l.startsWith("{"));
  assertEquals(results.length, 1, `one result line (rank 0): ${first.stdout}`);
  assertEquals(JSON.parse(results[0]).global_step, 2);
  const names = await entries(dir);
  assert(names.includes("checkpoint-2") && names.includes("model.safetensors"), `${names}`);
  assert(!names.some((n) => /\.(tmp|old)-/.test(n)), `a second writer left ${names}`);
  const log = (await Deno.readTextFile(`${dir}/train_log.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assertEquals(log.filter((e) => "loss" in e).map((e) => e.step), [1, 2]); // each step logged once
  const rng = JSON.parse(await Deno.readTextFile(`${dir}/checkpoint-2/rng_state.json`));
  assertEquals(rng.numProcesses, 2);

  const refused = await task([
    "task",
    "train",
    ...SMALL,
    "--max-steps",
    "4",
    "--output-dir",
    dir,
    "--resume-from-checkpoint",
    "latest",
  ]);
  assertEquals(refused.code, 1);
  assert(
    /written by a run with 2 processes, this run has 1; resume with the same number/.test(refused.stderr),
    refused.stderr,
  );

  const resumed = await task([
    "task",
    "launch",
    "--num-processes",
    "2",
    "--",
    ...SMALL,
    "--max-steps",
    "4",
    "--output-dir",
    dir,
    "--resume-from-checkpoint",
    "latest",
  ]);
  assertEquals(resumed.code, 0, resumed.stderr);
  const after = (await Deno.readTextFile(`${dir}/train_log.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assertEquals(after.filter((e) => "loss" in e).map((e) => e.step), [1, 2, 3, 4]);
  assert((await entries(dir)).includes("checkpoint-4"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train: under a bare mpiexec (no --allow-ffi) it stops with a one-line pointer to deno task launch", async () => {
  const dir = await Deno.makeTempDir();
  const r = await task([
    "-n",
    "2",
    Deno.execPath(),
    "task",
    "train",
    ...SMALL,
    "--max-steps",
    "1",
    "--output-dir",
    dir,
  ], "mpiexec");
  assert(r.code !== 0);
  assert(/lacks --allow-ffi; start multi-process runs with `deno task launch`/.test(r.stderr), r.stderr);
  await Deno.remove(dir, { recursive: true });
});
