// `deno task train` as a user runs it: a 5-step from-scratch run writes the HF folder and a checkpoint;
// without pretrained weights it stops before any work and shows the two ways on; bad flags print the
// help; SIGKILL in the middle of saving leaves every checkpoint folder complete and loadable.
import { assert, assertEquals } from "../_assert.ts";
import { fromPretrained } from "../../src/model/pretrained.ts";
import { listCheckpoints, loadCheckpoint } from "../../src/train/checkpoint.ts";
import { AdamW } from "../../src/ops/adamw.ts";
import { setupGpu } from "../_util.ts";
import { TINY_FROM_SCRATCH } from "../_cli_args.ts";

await setupGpu();
const CLI = new URL("../../src/train/cli.ts", import.meta.url).pathname;
const SMALL = [
  ...TINY_FROM_SCRATCH,
  "--max-train-samples",
  "40",
  "--max-eval-samples",
  "20",
  "--learning-rate",
  "1e-3",
  "--logging-steps",
  "1",
];

function command(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", ...env },
    stdout: "piped",
    stderr: "piped",
  });
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("train CLI: --max-steps 5 --from-scratch completes and writes the HF folder, log and checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const out = await command([
    ...SMALL,
    "--max-steps",
    "5",
    "--output-dir",
    dir,
    "--save-strategy",
    "steps",
    "--save-steps",
    "5",
    "--eval-strategy",
    "steps",
    "--eval-steps",
    "5",
  ]).output();
  assertEquals(out.code, 0, text(out.stderr));
  const summary = JSON.parse(text(out.stdout).trim().split("\n").pop()!);
  assertEquals(summary.global_step, 5);
  assert(typeof summary.eval_f1 === "number", "eval ran");
  for (
    const f of [
      "config.json",
      "model.safetensors",
      "tokenizer.json",
      "README.md",
      "training_curve.svg",
      "train_log.jsonl",
    ]
  ) {
    await Deno.stat(`${dir}/${f}`);
  }
  assertEquals((await listCheckpoints(dir)).map((c) => c.step), [5]);
  assert(text(out.stderr).includes("train: 5/5 epoch"), "progress shows steps");
  assert(/eval: \d+\/\d+ \d+ tok\/s/.test(text(out.stderr)), "evaluation shows progress");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train CLI: without pretrained weights it stops before any work and shows the two ways on", async () => {
  const cache = await Deno.makeTempDir();
  const dir = `${cache}/out`;
  const out = await command(["--output-dir", dir], { HF_HUB_OFFLINE: "1", HF_HUB_CACHE: cache }).output();
  assertEquals(out.code, 1);
  const err = text(out.stderr);
  assert(
    err.includes("bert-base-cased") && err.includes("--model <local dir") && err.includes("--from-scratch"),
    err,
  );
  let created = true;
  await Deno.stat(dir).catch(() => created = false);
  assert(!created, "no output folder was created");
  await Deno.remove(cache, { recursive: true });
});

Deno.test("train CLI: unknown flags and bad values are rejected with the help text", async () => {
  const out = await command(["--learning-rate", "fast"]).output();
  assertEquals(out.code, 2);
  assert(text(out.stderr).includes("--learning-rate takes a number") && text(out.stderr).includes("Usage:"));
  const help = await command(["--help"]).output();
  assertEquals(help.code, 0);
  assert(text(help.stdout).includes("--per-device-train-batch-size"));
});

Deno.test("train CLI: SIGKILL while saving leaves every checkpoint folder complete and loadable", async () => {
  const dir = await Deno.makeTempDir();
  const child = command([
    ...SMALL,
    "--hidden-size",
    "128",
    "--intermediate-size",
    "256",
    "--max-steps",
    "400",
    "--output-dir",
    dir,
    "--save-strategy",
    "steps",
    "--save-steps",
    "1",
    "--eval-strategy",
    "no",
  ]).spawn();
  // Kill once a few checkpoints exist: saves happen every step, so the kill very likely lands mid-save.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (await listCheckpoints(dir)).length < 3) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 137));
  let exited: Deno.CommandStatus | null = null;
  child.status.then((s) => exited = s);
  await new Promise((r) => setTimeout(r, 0));
  if (exited) throw new Error(`the training process ended before the kill: ${JSON.stringify(exited)}`);
  child.kill("SIGKILL");
  await child.output();
  const cps = await listCheckpoints(dir);
  assert(cps.length >= 3, `checkpoints: ${cps.length}`);
  for (const cp of cps) {
    const { model } = await fromPretrained(cp.path);
    const opt = new AdamW([...model.params.values()].map((param) => ({ param, weightDecay: 0 })), { lr: 1 });
    const c = await loadCheckpoint(cp.path, model, opt);
    assertEquals(c.state.global_step, cp.step);
    opt.dispose();
    model.dispose();
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train CLI: Ctrl-C (SIGINT, delivered twice as under deno task) stops within a step, saves, exits 130; resume continues", async () => {
  const dir = await Deno.makeTempDir();
  const args = [
    ...SMALL,
    "--max-steps",
    "400",
    "--output-dir",
    dir,
    "--save-strategy",
    "no",
    "--eval-strategy",
    "no",
  ];
  const child = command(args).spawn();
  const deadline = Date.now() + 60_000;
  const log = `${dir}/train_log.jsonl`;
  // Wait until a few steps are logged, then interrupt.
  let logged = 0;
  while (Date.now() < deadline) {
    const lines = await Deno.readTextFile(log).catch(() => "");
    logged = lines.split("\n").length - 1;
    if (logged > 4) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGINT");
  await new Promise((r) => setTimeout(r, 100));
  try {
    child.kill("SIGINT"); // the same keypress forwarded by deno task: not an abort
  } catch { /* already exited */ }
  const out = await child.output();
  assertEquals(out.code, 130, text(out.stderr));
  const summary = JSON.parse(text(out.stdout).trim().split("\n").pop()!);
  assertEquals(summary.interrupted, true);
  assert(
    summary.global_step <= logged + 3,
    `stopped at ${summary.global_step}, ${logged} steps logged at Ctrl-C`,
  );
  const cps = await listCheckpoints(dir);
  assertEquals(cps.map((c) => c.step), [summary.global_step]);
  const resumed = await command([
    ...args,
    "--max-steps",
    String(summary.global_step + 2),
    "--resume-from-checkpoint",
    "latest",
  ]).output();
  assertEquals(resumed.code, 0, text(resumed.stderr));
  assertEquals(
    JSON.parse(text(resumed.stdout).trim().split("\n").pop()!).global_step,
    summary.global_step + 2,
  );
  await Deno.remove(dir, { recursive: true });
});
