// `deno task train --fp16`: trains, writes scaler.json into checkpoints and records fp16 in
// training_args.json and the model card (HF's "mixed_precision_training: Native AMP"); on a device
// without shader-f16 (WEBGPU_NER_DISABLE_FEATURES=shader-f16) it is one line and exit 1, before any data
// or model is loaded.
import { assert, assertEquals } from "../_assert.ts";
import { TINY_FROM_SCRATCH } from "../_cli_args.ts";

const CLI = new URL("../../src/train/cli.ts", import.meta.url).pathname;

async function train(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b).replace(/.*XDG_RUNTIME_DIR.*\n/g, "").trimEnd();
  return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}

const RUN = [
  ...TINY_FROM_SCRATCH,
  "--max-train-samples",
  "16",
  "--max-eval-samples",
  "8",
  "--per-device-train-batch-size",
  "4",
  "--max-steps",
  "3",
  "--save-strategy",
  "steps",
  "--save-steps",
  "2",
  "--logging-steps",
  "1",
];

Deno.test("train CLI --fp16: trains; scaler.json in the checkpoint; fp16 in training_args.json and the card", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await train([...RUN, "--fp16", "--output-dir", dir]);
    assertEquals(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout.split("\n").pop()!);
    assertEquals(result.global_step, 3);
    assert(Number.isFinite(result.train_loss), r.stdout);
    const scaler = JSON.parse(await Deno.readTextFile(`${dir}/checkpoint-2/scaler.json`));
    assertEquals(scaler, {
      scale: 65536,
      growth_factor: 2,
      backoff_factor: 0.5,
      growth_interval: 2000,
      _growth_tracker: 2,
    });
    assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/training_args.json`)).fp16, true);
    assert((await Deno.readTextFile(`${dir}/README.md`)).includes("- mixed_precision_training: Native AMP"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI --fp16 without shader-f16: one line naming the adapter, exit 1, nothing written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await train([...RUN, "--fp16", "--output-dir", `${dir}/out`], {
      WEBGPU_NER_DISABLE_FEATURES: "shader-f16",
    });
    assertEquals(r.code, 1, r.stderr);
    assert(!/Uncaught|\n\s+at /.test(r.stderr), r.stderr);
    const lines = r.stderr.split("\n");
    assertEquals(lines.length, 1, r.stderr);
    assert(
      /^train: --fp16 needs a WebGPU adapter with the shader-f16 feature; llvmpipe.* has none$/.test(
        lines[0],
      ),
      lines[0],
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), []);
    // The same command without --fp16 trains on that device.
    const ok = await train([...RUN, "--max-steps", "1", "--output-dir", `${dir}/out`], {
      WEBGPU_NER_DISABLE_FEATURES: "shader-f16",
    });
    assertEquals(ok.code, 0, ok.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
