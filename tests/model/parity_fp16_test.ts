// `deno task parity --fp16` (src/model/parity.ts): the HF `--fp16` step — autocast matmuls, the loss
// scaled by 2^16, gradients unscaled before AdamW — against the fp32 PyTorch golden values on every
// parity fixture, within PARITY_TOLERANCES.fp16; the fp16 rounding must be visible (the fp32 limits fail);
// without shader-f16 the command is one line and exit 1.
import { assert, assertEquals } from "../_assert.ts";
import { PARITY_TOLERANCES, runParity } from "../../src/model/parity.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();
const ROOT = new URL("../fixtures/", import.meta.url).pathname;
const FIXTURES = [...Deno.readDirSync(ROOT)].map((e) => e.name).filter((n) => /-parity(-std01)?$/.test(n))
  .sort();
const CLI = new URL("../../src/model/parity.ts", import.meta.url).pathname;

Deno.test("parity --fp16: every fixture within the fp16 tolerances, with the fp16 error visible", async () => {
  assertEquals(FIXTURES.length, 10);
  const fp32 = PARITY_TOLERANCES.fp32, fp16 = PARITY_TOLERANCES.fp16;
  for (const name of FIXTURES) {
    const dir = `${ROOT}${name}/`;
    const r = await runParity(dir, `${dir}golden.safetensors`, { fp16: true });
    assert(r.pass, `${name}: ${r.failures.slice(0, 5).join("; ")}`);
    assert(r.logits_max_abs <= fp16.logits && r.loss_abs <= fp16.loss, `${name}: ${JSON.stringify(r)}`);
    assert(
      r.grad_worst_ratio <= 1 && r.adamw_update_worst_abs <= fp16.update,
      `${name}: ${JSON.stringify(r)}`,
    );
    // The matmuls really ran on fp16 inputs: the logits miss the fp32 limit (measured ≥ 9.6e-5).
    assert(r.logits_max_abs > 5 * fp32.logits, `${name}: logits ${r.logits_max_abs} look fp32`);
    const small = r.fp16_small_grad_elements ?? -1;
    assert(small > 0 && small < 5000, `${name}: ${small} small-gradient elements`);
  }
});

async function parityCli(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", CLI, ...args],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b).replace(/.*XDG_RUNTIME_DIR.*\n/g, "").trimEnd();
  return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}

Deno.test("parity CLI --fp16: exit 0 with fp16 in the report; without shader-f16 one line, exit 1", async () => {
  const dir = `${ROOT}bert-tiny-parity/`;
  const ok = await parityCli(["--model", dir, "--golden", `${dir}golden.safetensors`, "--fp16"]);
  assertEquals(ok.code, 0, ok.stderr);
  const report = JSON.parse(ok.stdout);
  assertEquals(report.fp16, true);
  assert(report.logits_max_abs > 1e-5 && report.logits_max_abs <= 5e-3, ok.stdout);
  const no = await parityCli(["--model", dir, "--golden", `${dir}golden.safetensors`, "--fp16"], {
    WEBGPU_NER_DISABLE_FEATURES: "shader-f16",
  });
  assertEquals(no.code, 1, no.stderr);
  assertEquals(no.stderr.split("\n").length, 1, no.stderr);
  assert(
    /^parity: --fp16 needs a WebGPU adapter with the shader-f16 feature; .+ has none$/.test(no.stderr),
    no.stderr,
  );
  assertEquals(no.stdout, "");
});
