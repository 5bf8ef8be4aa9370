// The README's custom-loop example must keep running.
import { assert, assertEquals } from "./_assert.ts";

Deno.test("examples/custom_loop.ts (the course's Accelerate loop) trains on 1 process, evaluates with seqeval and saves an HF folder", async () => {
  const dir = await Deno.makeTempDir();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../examples/custom_loop.ts", import.meta.url).pathname,
      "--train-samples",
      "64",
      "--output-dir",
      dir,
    ],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  assert(/epoch 0: \{[^}]*f1: [0-9.]+/s.test(stdout), stdout);
  const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  assertEquals(config.id2label["1"], "B-PER");
  await Deno.stat(`${dir}/model.safetensors`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("examples/custom_loop.ts --push-to-hub pushes after each epoch in the background (mock Hub)", async () => {
  const { MockHubWrite } = await import("./io/_mock_hub_write.ts");
  const hub = MockHubWrite.start();
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../examples/custom_loop.ts", import.meta.url).pathname,
        "--train-samples",
        "16",
        "--epochs",
        "2",
        "--output-dir",
        `${dir}/accel`,
        "--push-to-hub",
        "accel-ner",
      ],
      env: {
        XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
        HF_ENDPOINT: hub.url,
        HF_TOKEN: "hf_write_token",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assertEquals(hub.summaries("alice/accel-ner").slice(1), [
      "Training in progress epoch 0",
      "Training in progress epoch 1",
    ]);
    const repo = hub.repos.get("alice/accel-ner")!;
    assert(repo.files.get("model.safetensors")?.lfs && repo.files.has("config.json"), "HF folder pushed");
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/custom_loop.ts runs on 2 processes (deno task launch): one output folder, main-process prints", async () => {
  const dir = await Deno.makeTempDir();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../src/dist/launch.ts", import.meta.url).pathname,
      "--num-processes",
      "2",
      "--collective-timeout",
      "120",
      "--script",
      new URL("../examples/custom_loop.ts", import.meta.url).pathname,
      "--",
      "--train-samples",
      "64",
      "--output-dir",
      dir,
    ],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  assertEquals(stdout.match(/epoch 0: \{[^}]*f1: [0-9.]+/gs)?.length, 1, stdout); // printed once
  assert(/saved to .* \(2 process\(es\)\)/.test(stdout), stdout);
  const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  assertEquals(config.id2label["1"], "B-PER");
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assert(!names.some((n) => n.includes(".tmp-")), `stray temporary files: ${names}`);
  await Deno.remove(dir, { recursive: true });
});
