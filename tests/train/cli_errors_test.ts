// Issue 13, `deno task train` failures as a user meets them: each is ONE line on stderr (no stack trace)
// and a non-zero exit, and what can be checked before loading data and model is (items 2 and 10; output
// folder, resume target, changed arguments, tokenizer/model mismatch, stale temporary files).
import { assert, assertEquals } from "../_assert.ts";
import { readSafetensors, serializeSafetensors, toFloat32 } from "../../src/io/safetensors.ts";
import { removeStaleTemps } from "../../src/train/preflight.ts";

const CLI = new URL("../../src/train/cli.ts", import.meta.url).pathname;
const FIXTURE = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;
const SMALL = [
  "--from-scratch",
  "--hidden-size",
  "16",
  "--num-hidden-layers",
  "1",
  "--num-attention-heads",
  "2",
  "--intermediate-size",
  "32",
  "--max-train-samples",
  "8",
  "--max-eval-samples",
  "4",
  "--per-device-train-batch-size",
  "4",
];

async function train(args: string[]): Promise<{ code: number; stderr: string; lines: string[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr).replace(/.*XDG_RUNTIME_DIR.*\n/g, "");
  const lines = stderr.trimEnd().split("\n").filter((l) =>
    !/^train: from scratch|^train: \d+\/\d+ |^\[|^eval|examples,/.test(l)
  );
  return { code: out.code, stderr, lines };
}

/** Asserts exit 1 and exactly one error line starting with `train: ` and containing `includes`. */
function assertOneLine(r: { code: number; stderr: string; lines: string[] }, includes: string): void {
  assertEquals(r.code, 1, r.stderr);
  assert(!/Uncaught|\n\s+at /.test(r.stderr), `stack trace:\n${r.stderr}`);
  assertEquals(r.lines.length, 1, r.stderr);
  assert(r.lines[0].startsWith("train: ") && r.lines[0].includes(includes), r.stderr);
}

Deno.test("train CLI (item 2): an empty training set or one with only -DOCSTART- is refused with the path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, text] of [["empty.txt", ""], ["docstart.txt", "-DOCSTART- -X- -X- O\n\n"]]) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      const r = await train([...SMALL, "--dataset", `${dir}/${name}`, "--output-dir", `${dir}/out`]);
      assertOneLine(r, `--dataset ${dir}/${name}: the train split has no examples`);
    }
    // Rows, but not one labelled token.
    await Deno.writeTextFile(`${dir}/nolabel.jsonl`, JSON.stringify({ tokens: [], ner_tags: [] }) + "\n");
    const r = await train([...SMALL, "--dataset", `${dir}/nolabel.jsonl`, "--output-dir", `${dir}/out`]);
    assertOneLine(r, `--dataset ${dir}/nolabel.jsonl: the train split has no labelled tokens`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI (item 10): trainer_state.json {} or missing a field is named on resume", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ok = await train([
      ...SMALL,
      "--max-steps",
      "2",
      "--save-strategy",
      "steps",
      "--save-steps",
      "2",
      "--output-dir",
      dir,
    ]);
    assertEquals(ok.code, 0, ok.stderr);
    // A --from-scratch run's model card names no base model (it said "fine-tuned version of bert-base-cased").
    const card = await Deno.readTextFile(`${dir}/README.md`);
    assert(!card.includes("fine-tuned version of") && !/^base_model:/m.test(card), card.slice(0, 400));
    const ckpt = `${dir}/checkpoint-2`;
    const state = JSON.parse(await Deno.readTextFile(`${ckpt}/trainer_state.json`));
    await Deno.writeTextFile(`${ckpt}/trainer_state.json`, "{}");
    const resume = [...SMALL, "--max-steps", "4", "--output-dir", dir, "--resume-from-checkpoint", ckpt];
    assertOneLine(await train(resume), `${ckpt}/trainer_state.json: global_step: missing`);
    delete state.log_history;
    await Deno.writeTextFile(`${ckpt}/trainer_state.json`, JSON.stringify(state));
    assertOneLine(
      await train(resume),
      `${ckpt}/trainer_state.json: log_history: missing (expected a list of objects)`,
    );
    state.log_history = [];
    state.global_step = "2";
    await Deno.writeTextFile(`${ckpt}/trainer_state.json`, JSON.stringify(state));
    assertOneLine(await train(resume), `global_step: is "2", expected a non-negative integer`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI: bad output folders and resume targets fail in one line before loading anything", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "x");
    const cases: [string[], string][] = [
      [["--output-dir", `${dir}/file`], `--output-dir ${dir}/file exists and is not a folder`],
      [["--output-dir", "/proc/webgpu-ner-test"], "--output-dir /proc/webgpu-ner-test is not writable"],
      [
        ["--output-dir", `${dir}/o`, "--resume-from-checkpoint", `${dir}/checkpoint-9`],
        "no such checkpoint folder",
      ],
      [
        ["--output-dir", `${dir}/o`, "--resume-from-checkpoint", "latest"],
        `no checkpoint-* folder in ${dir}/o`,
      ],
      [["--output-dir", `${dir}/o`, "--resume-from-checkpoint", `${dir}/file`], "is not a folder"],
    ];
    for (const [args, message] of cases) {
      const started = performance.now();
      const r = await train(["--model", "no/such-model-anywhere", ...args]); // never reached: checked first
      assertOneLine(r, message);
      assert(performance.now() - started < 15000, "checked only after loading");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI: resuming with another seed or batch size is refused unless --allow-resume-changes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const base = [...SMALL, "--output-dir", dir, "--save-strategy", "steps", "--save-steps", "1"];
    assertEquals((await train([...base, "--max-steps", "1"])).code, 0);
    const resume = [...base, "--max-steps", "2", "--resume-from-checkpoint", "latest"];
    const r = await train([...resume, "--seed", "7", "--learning-rate", "1e-3"]);
    assertOneLine(r, "cannot resume from");
    assert(r.lines[0].includes("--seed 42 in the checkpoint, 7 now"), r.lines[0]);
    assert(r.lines[0].includes("--allow-resume-changes"), r.lines[0]);
    const size = await train([...resume.map((a) => a === "16" ? "32" : a)]);
    assertOneLine(size, "hidden_size 16 in the checkpoint");
    const allowed = await train([...resume, "--seed", "7", "--allow-resume-changes"]);
    assertEquals(allowed.code, 0, allowed.stderr);
    assert(allowed.stderr.includes("resuming with a changed argument: --seed 42"), allowed.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI: a tokenizer larger than the model's vocabulary is one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = await readSafetensors(`${FIXTURE}model.safetensors`);
    const tensors = [...file.tensors].map(([name, t]) => {
      let data = toFloat32(t, name), shape = t.shape;
      if (name.includes("word_embeddings")) [data, shape] = [data.slice(0, 100 * shape[1]), [100, shape[1]]];
      return { name, dtype: "F32" as const, shape, data };
    });
    await Deno.writeFile(`${dir}/model.safetensors`, serializeSafetensors(tensors, { format: "pt" }));
    const config = JSON.parse(await Deno.readTextFile(`${FIXTURE}config.json`));
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...config, vocab_size: 100 }));
    const r = await train(["--model", dir, "--max-train-samples", "4", "--output-dir", `${dir}/out`]);
    assertOneLine(r, "tokens but the model's vocab_size is 100");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("preflight: stale *.tmp-* files and folders of a killed save are removed; a lone .old-* is restored", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/checkpoint-4.tmp-abc123`);
    await Deno.writeTextFile(`${dir}/.config.json.tmp-x9`, "half");
    await Deno.mkdir(`${dir}/checkpoint-2`);
    await Deno.mkdir(`${dir}/checkpoint-2.old-zz1`);
    await Deno.mkdir(`${dir}/checkpoint-3.old-q7`);
    await Deno.writeTextFile(`${dir}/train_log.jsonl`, "");
    const removed = (await removeStaleTemps(dir)).sort();
    assertEquals(removed, [".config.json.tmp-x9", "checkpoint-2.old-zz1", "checkpoint-4.tmp-abc123"]);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "checkpoint-2",
      "checkpoint-3",
      "train_log.jsonl",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train CLI (item 1): lr 1e6 without clipping exits 1 with one line naming the step; no model written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await train([
      ...SMALL,
      "--max-steps",
      "10",
      "--learning-rate",
      "1e6",
      "--max-grad-norm",
      "0",
      "--eval-strategy",
      "no",
      "--save-strategy",
      "no",
      "--output-dir",
      dir,
    ]);
    assertOneLine(r, "became NaN or infinite at step");
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["train_log.jsonl"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
