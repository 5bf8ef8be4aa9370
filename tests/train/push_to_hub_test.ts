// Trainer and CLI pushes to the mock Hub on 127.0.0.1: `deno task train --push-to-hub` leaves the HF
// file set and the course's commits; `checkpoint` pushes last-checkpoint/ and a resume from the repo id
// continues exactly; pushes run in the background (slow Hub, same training time); the token is never
// written; the custom loop's pushToHub(…, { blocking: false }).
import { assert, assertEquals } from "../_assert.ts";
import { createHash } from "node:crypto";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { BERT_BASE_CASED_DIR, loadTokenizer } from "../../src/data/tokenizer.ts";
import { tokenizeAndAlign } from "../../src/data/prepare.ts";
import { fromPretrained } from "../../src/model/pretrained.ts";
import { DEFAULT_TRAINING_ARGS, type TrainingArguments } from "../../src/train/args.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { pushToHub } from "../../src/train/hub_push.ts";
import { MockHubWrite } from "../io/_mock_hub_write.ts";
import { setupGpu } from "../_util.ts";
import { TINY_FROM_SCRATCH } from "../_cli_args.ts";

await setupGpu();
const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURE = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;
const TOKEN = "hf_write_token";
const data = await loadConll2003();
const tokenizer = await loadTokenizer();
const NAMES = data.train.features.ner_tags.names;
const train = tokenizeAndAlign({ ...data.train, rows: data.train.rows.slice(0, 24) }, tokenizer, {
  maxLength: 48,
}).examples;
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const losses = (h: Record<string, unknown>[]) =>
  h.filter((e) => typeof e.loss === "number").map((e) => e.loss);

function args(outputDir: string, over: Partial<TrainingArguments> = {}): TrainingArguments {
  return {
    ...DEFAULT_TRAINING_ARGS,
    outputDir,
    learningRate: 3e-3,
    perDeviceTrainBatchSize: 4,
    numTrainEpochs: 2,
    loggingSteps: 1,
    evalStrategy: "no",
    saveStrategy: "no",
    ...over,
  };
}

async function runTrainer(
  a: TrainingArguments,
  hub: MockHubWrite | null,
  opts: { cache?: string; stopAt?: number; after?: (t: Trainer) => Promise<void> } = {},
) {
  const { model } = await fromPretrained(FIXTURE, { labels: NAMES });
  const vars: Record<string, string> = hub ? { HF_ENDPOINT: hub.url, HF_HUB_CACHE: opts.cache ?? "" } : {};
  const trainer: Trainer = new Trainer({
    model,
    args: a,
    train,
    padId: tokenizer.padId,
    progress: false,
    tokenizerDir: BERT_BASE_CASED_DIR,
    hub: { env: (k) => vars[k], log: () => {} },
    onLog: (e) => {
      if (opts.stopAt !== undefined && e.step === opts.stopAt) trainer.requestStop();
    },
  });
  try {
    const result = await trainer.train();
    await opts.after?.(trainer);
    await trainer.waitForPushes();
    return { result, trainer };
  } finally {
    trainer.optimizer.dispose();
    model.dispose();
  }
}

async function tempDirs(n: number): Promise<string[]> {
  return await Promise.all(Array.from({ length: n }, () => Deno.makeTempDir({ prefix: "push-" })));
}

Deno.test("push CLI: a 2-epoch --from-scratch run pushes each epoch and the end; the repo has the HF file set", async () => {
  const hub = MockHubWrite.start();
  const [dir] = await tempDirs(1);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "-q",
        "train",
        ...TINY_FROM_SCRATCH,
        "--max-train-samples",
        "48",
        "--max-eval-samples",
        "8",
        "--max-length",
        "48",
        "--learning-rate",
        "1e-3",
        "--num-train-epochs",
        "2",
        "--output-dir",
        `${dir}/tiny-push`,
        "--push-to-hub",
        "--hub-token",
        TOKEN,
        // a tiny epoch is shorter than a push: queue saves instead of skipping them (the default skip
        // is tested below with a slow Hub), so both epoch commits are there deterministically
        "--hub-always-push",
      ],
      cwd: ROOT,
      env: { HF_ENDPOINT: hub.url, HF_HOME: dir, XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = text(out.stderr);
    assertEquals(out.code, 0, stderr);
    const summary = JSON.parse(text(out.stdout).trim().split("\n").pop()!);
    assertEquals(summary.hub_url, `${hub.url}/alice/tiny-push`);
    assertEquals(hub.summaries("alice/tiny-push"), [
      "initial commit",
      "Training in progress, epoch 1",
      "Training in progress, epoch 2",
      "End of training",
    ]);
    const repo = hub.repos.get("alice/tiny-push")!;
    const names = [...repo.files.keys()];
    for (
      const f of [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "README.md",
        "training_args.json",
        "trainer_state.json",
        "training_curve.svg",
      ]
    ) assert(names.includes(f), `${f} missing: ${names}`);
    assert(!names.some((n) => n.startsWith("checkpoint-") || n.includes(".hub-staging")), names.join(" "));
    const weights = repo.files.get("model.safetensors")!;
    assert(weights.lfs, "model.safetensors went through LFS");
    assertEquals(sha256(weights.bytes), sha256(await Deno.readFile(`${dir}/tiny-push/model.safetensors`)));
    const card = hub.text("alice/tiny-push", "README.md");
    const yaml = card.split("---\n")[1];
    for (const line of ["pipeline_tag: token-classification", "license: apache-2.0", "- name: tiny-push"]) {
      assert(yaml.includes(line), `card YAML lacks ${line}:\n${yaml}`);
    }
    assert(!yaml.includes("base_model"), "no base_model for a from-scratch run");
    assert(/ {6}type: f1\n {6}value: [0-9.e-]+\n/.test(yaml), "model-index metrics");
    assert(card.includes(`${hub.url}/alice/tiny-push`), "the card names the repo");
    for (const [name, f] of repo.files) assert(!text(f.bytes).includes(TOKEN), `token in ${name}`);
    assert(!stderr.includes(TOKEN) && !text(out.stdout).includes(TOKEN), "token in the logs");
    const saved = JSON.parse(hub.text("alice/tiny-push", "training_args.json"));
    assertEquals([saved.hubToken, saved.pushToHub], ["<HUB_TOKEN>", true]);
    // the API calls carried the token; the upload URLs did not
    assert(hub.requests.filter((q) => q.path.startsWith("/api/")).every((q) => q.auth === `Bearer ${TOKEN}`));
    assert(hub.requests.filter((q) => q.path.startsWith("/lfs-upload/")).every((q) => q.auth === null));
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("push: a bad token fails before any training", async () => {
  const hub = MockHubWrite.start();
  const [dir] = await tempDirs(1);
  try {
    const a = args(`${dir}/out`, { pushToHub: true, hubToken: "hf_wrong_token" });
    let logged = 0;
    const { model } = await fromPretrained(FIXTURE, { labels: NAMES });
    const vars: Record<string, string> = { HF_ENDPOINT: hub.url };
    const trainer = new Trainer({
      model,
      args: a,
      train,
      padId: tokenizer.padId,
      progress: false,
      hub: { env: (k) => vars[k], log: () => {} },
      onLog: () => logged++,
    });
    let message = "";
    await trainer.train().catch((e) => message = e.message);
    trainer.optimizer.dispose();
    model.dispose();
    assert(message.includes("HTTP 401") && message.includes("deno task login"), message);
    assert(!message.includes("hf_wrong_token"), "token in the error");
    assertEquals(logged, 0, "no step ran");
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("push: hubStrategy checkpoint pushes last-checkpoint/; a resume from the repo id logs the same losses", async () => {
  const hub = MockHubWrite.start();
  const [full, pushed, fresh, cache] = await tempDirs(4);
  try {
    const base = await runTrainer(args(full), null);
    const a = args(pushed, {
      saveStrategy: "steps",
      saveSteps: 3,
      pushToHub: true,
      hubModelId: "alice/resume-me",
      hubStrategy: "checkpoint",
      hubAlwaysPush: true,
      hubToken: TOKEN,
    });
    const stopped = await runTrainer(a, hub, { stopAt: 7 });
    assert(stopped.result.interrupted, "stopped at step 7");
    const repo = hub.repos.get("alice/resume-me")!;
    for (const f of ["optimizer.safetensors", "scheduler.json", "rng_state.json", "trainer_state.json"]) {
      assert(repo.files.has(`last-checkpoint/${f}`), `last-checkpoint/${f}`);
    }
    assertEquals(
      JSON.parse(hub.text("alice/resume-me", "last-checkpoint/trainer_state.json")).global_step,
      7,
    );
    assertEquals(
      JSON.parse(hub.text("alice/resume-me", "last-checkpoint/training_args.json")).hubToken,
      "<HUB_TOKEN>",
    );
    assert(!(await Deno.readTextFile(`${pushed}/checkpoint-7/training_args.json`)).includes(TOKEN));
    assertEquals(hub.summaries("alice/resume-me").slice(1), [
      "Training in progress, step 3",
      "Training in progress, step 6",
      "Training in progress, step 7",
    ]);
    // "another machine": a fresh output folder and an empty cache, only the repo id
    const resumed = await runTrainer(args(fresh, { resumeFromCheckpoint: "alice/resume-me" }), hub, {
      cache,
    });
    assertEquals(resumed.result.globalStep, 12);
    assertEquals(losses(resumed.result.state.log_history), losses(base.result.state.log_history));
  } finally {
    await hub.close();
    for (const d of [full, pushed, fresh, cache]) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("push: hubStrategy all_checkpoints pushes each checkpoint-N/; end pushes only at trainer.pushToHub()", async () => {
  const hub = MockHubWrite.start();
  const [all, end] = await tempDirs(2);
  try {
    const saves = {
      saveStrategy: "steps" as const,
      saveSteps: 3,
      maxSteps: 6,
      pushToHub: true,
      hubToken: TOKEN,
    };
    await runTrainer(
      args(all, { ...saves, hubModelId: "alice/all", hubStrategy: "all_checkpoints", hubAlwaysPush: true }),
      hub,
      { after: async (t) => void await t.pushToHub({ commitMessage: "done" }) },
    );
    const files = [...hub.repos.get("alice/all")!.files.keys()];
    for (
      const f of [
        "checkpoint-3/optimizer.safetensors",
        "checkpoint-6/trainer_state.json",
        "model.safetensors",
      ]
    ) {
      assert(files.includes(f), `${f} missing: ${files}`);
    }
    assertEquals(hub.summaries("alice/all").slice(1), [
      "Training in progress, step 3",
      "Training in progress, step 6",
      "done",
    ]);
    await runTrainer(
      args(end, { ...saves, hubModelId: "alice/end", hubStrategy: "end", hubRevision: "dev" }),
      hub,
      { after: async (t) => void await t.pushToHub() },
    );
    const repo = hub.repos.get("alice/end")!;
    assertEquals(hub.summaries("alice/end"), ["initial commit"], "main untouched: hubRevision is dev");
    assertEquals(repo.branches!.get("dev")!.commits.map((c) => c.summary), [
      "initial commit",
      "End of training",
    ]);
    assert(![...repo.branches!.get("dev")!.files.keys()].some((f) => f.includes("checkpoint")));
  } finally {
    await hub.close();
    for (const d of [all, end]) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("push: with a Hub answering each request after 2 s, training time grows far less than pushes × 2 s", async () => {
  const hub = MockHubWrite.start();
  const [quick, slow] = await tempDirs(2);
  try {
    const saves = { saveStrategy: "steps" as const, saveSteps: 1, maxSteps: 6 };
    const t0 = (await runTrainer(args(quick, saves), null)).result.trainSeconds;
    hub.delayMs = 2000;
    const { result, trainer } = await runTrainer(
      args(slow, { ...saves, pushToHub: true, hubModelId: "alice/slow", hubToken: TOKEN }),
      hub,
      {
        after: async (t) => {
          hub.delayMs = 0; // let the push in flight finish quickly
          await t.waitForPushes();
        },
      },
    );
    const outcomes = trainer.hubPushes.map((p) => p.outcome);
    assertEquals(outcomes.length, 6);
    assert(outcomes.includes("skipped") && outcomes[0] === "done", outcomes.join(","));
    const grew = result.trainSeconds - t0;
    assert(
      grew < 0.2 * 6 * 2,
      `training took ${grew.toFixed(2)} s longer with a 2 s Hub (${t0} → ${result.trainSeconds})`,
    );
    assertEquals(hub.maxConcurrentCommits, 1, "at most one push in flight");
  } finally {
    await hub.close();
    for (const d of [quick, slow]) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("push: pushToHub(folder, repo, { blocking: false }) snapshots, returns at once and can be awaited", async () => {
  const hub = MockHubWrite.start();
  const [dir] = await tempDirs(1);
  try {
    const env = (k: string) => ({ HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN } as Record<string, string>)[k];
    await Deno.writeTextFile(`${dir}/config.json`, '{"v": 1}');
    hub.delayMs = 300; // per reply: the upload's several requests take over a second
    const t0 = performance.now();
    const job = await pushToHub(dir, "accel", {
      commitMessage: "Training in progress epoch 0",
      blocking: false,
      env,
    });
    assert(performance.now() - t0 < 1000 && !job.done, "returned before the upload");
    await Deno.writeTextFile(`${dir}/config.json`, '{"v": 2}'); // the loop goes on writing
    const second = await pushToHub(dir, "accel", {
      commitMessage: "Training in progress epoch 1",
      blocking: false,
      env,
    });
    const info = await job.wait();
    assert(job.done && !info.skipped);
    await second.wait();
    assertEquals(hub.summaries("alice/accel").slice(1), [
      "Training in progress epoch 0",
      "Training in progress epoch 1",
    ]);
    assertEquals(hub.text("alice/accel", "config.json"), '{"v": 2}');
    assertEquals(hub.maxConcurrentCommits, 1);
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});
