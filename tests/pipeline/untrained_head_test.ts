// Issue 13 item 4: `deno task predict` on a checkpoint without classifier weights prints HF's "newly
// initialized … You should probably TRAIN this model" warning and refuses (exit 1, one error line) unless
// --allow-untrained-head.
import { assert, assertEquals } from "../_assert.ts";
import { readSafetensors, serializeSafetensors, toFloat32 } from "../../src/io/safetensors.ts";

const CLI = new URL("../../src/pipeline/cli.ts", import.meta.url).pathname;
const FIXTURE = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;

/** The parity fixture without `classifier.*` (an encoder-only checkpoint). */
async function headless(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const file = await readSafetensors(`${FIXTURE}model.safetensors`);
  const tensors = [...file.tensors].filter(([k]) => !k.startsWith("classifier.")).map(([name, t]) => ({
    name,
    dtype: "F32" as const,
    shape: t.shape,
    data: toFloat32(t, name),
  }));
  await Deno.writeFile(`${dir}/model.safetensors`, serializeSafetensors(tensors, { format: "pt" }));
  for (const f of ["config.json", "tokenizer.json", "vocab.txt", "tokenizer_config.json"]) {
    try {
      await Deno.copyFile(`${FIXTURE}${f}`, `${dir}/${f}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return dir;
}

async function predict(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "--allow-net", CLI, ...args],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    code: out.code,
    stdout: text(out.stdout),
    stderr: text(out.stderr).replace(/.*XDG_RUNTIME_DIR.*\n/g, ""),
  };
}

Deno.test("predict (item 4): a checkpoint without a trained head warns as HF and is refused", async () => {
  const dir = await headless();
  try {
    const refused = await predict(["--model", dir, "Hugging Face in Brooklyn"]);
    assertEquals(refused.code, 1, refused.stderr);
    assertEquals(refused.stdout, "");
    const lines = refused.stderr.trimEnd().split("\n");
    assertEquals(lines.length, 2, refused.stderr);
    assert(/newly initialized: \[classifier\.weight, classifier\.bias\]/.test(lines[0]), lines[0]);
    assert(lines[0].includes("You should probably TRAIN this model"), lines[0]);
    assert(lines[1].startsWith(`predict: ${dir} has no trained classifier head`), lines[1]);
    assert(lines[1].includes("--allow-untrained-head"), lines[1]);
    const allowed = await predict(["--model", dir, "--allow-untrained-head", "Hugging Face in Brooklyn"]);
    assertEquals(allowed.code, 0, allowed.stderr);
    assert(allowed.stderr.includes("You should probably TRAIN this model"), allowed.stderr);
    assert(Array.isArray(JSON.parse(allowed.stdout)));
    // The trained fixture loads without any warning.
    const trained = await predict(["--model", FIXTURE, "Hugging Face"]);
    assertEquals([trained.code, trained.stderr], [0, ""]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict: once the model is loaded it can no longer write anywhere (downloads go only to the Hub cache)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/probe.ts`;
    const cli = new URL("../../src/pipeline/cli.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { runPredict } from "${cli}";\n` +
        `const code = await runPredict(["--model", ${
          JSON.stringify(FIXTURE)
        }, "Hugging Face"], () => {});\n` +
        `let wrote = true;\ntry { Deno.writeTextFileSync(${
          JSON.stringify(`${dir}/x`)
        }, "x"); } catch { wrote = false; }\n` +
        `console.log(JSON.stringify({ code, wrote }));\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-net", script],
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    assertEquals(JSON.parse(text(out.stdout).trim()), { code: 0, wrote: false }, text(out.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
