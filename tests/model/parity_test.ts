// The parity check against PyTorch golden values (logits, loss, every gradient, one AdamW step) for both
// fixtures, in-process and through `deno task parity`'s command.
import { assert, assertEquals } from "../_assert.ts";
import { runParity } from "../../src/model/parity.ts";

const fixture = (name: string) => new URL(`../fixtures/${name}/`, import.meta.url).pathname;

for (const name of ["bert-tiny-parity", "bert-tiny-parity-std01"]) {
  Deno.test(`parity: ${name} matches PyTorch within the issue's tolerances`, async () => {
    const r = await runParity(fixture(name), `${fixture(name)}golden.safetensors`);
    assertEquals(r.failures, []);
    assert(r.logits_max_abs <= 1e-5 && r.loss_abs <= 1e-5, JSON.stringify(r));
    assert(r.grad_worst_ratio <= 1 && r.adamw_update_worst_abs <= 2e-5, JSON.stringify(r));
    assertEquals(r.tensors_compared, 2 + 2 * 39);
  });
}

Deno.test("parity: the command prints one JSON line with exactly the issue's keys and exits 0", async () => {
  const dir = fixture("bert-tiny-parity-std01");
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      new URL("../../src/model/parity.ts", import.meta.url).pathname,
      "--model",
      dir,
      "--golden",
      `${dir}golden.safetensors`,
    ],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assertEquals(lines.length, 1);
  assertEquals(Object.keys(JSON.parse(lines[0])), [
    "logits_max_abs",
    "loss_abs",
    "grad_worst_ratio",
    "grad_worst_tensor",
    "adamw_update_worst_abs",
    "adamw_worst_tensor",
    "tensors_compared",
  ]);
});

Deno.test("parity: a corrupted golden value makes the check fail", async () => {
  const dir = fixture("bert-tiny-parity");
  const tmp = await Deno.makeTempDir();
  const bytes = await Deno.readFile(`${dir}golden.safetensors`);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const [start] = header["grad.classifier.weight"].data_offsets;
  new DataView(bytes.buffer).setFloat32(8 + n + start, 1.0, true);
  await Deno.writeFile(`${tmp}/golden.safetensors`, bytes);
  await Deno.copyFile(`${dir}golden.json`, `${tmp}/golden.json`);
  const r = await runParity(dir, `${tmp}/golden.safetensors`);
  assert(!r.pass && r.grad_worst_tensor === "classifier.weight" && r.grad_worst_ratio > 1, JSON.stringify(r));
  await Deno.remove(tmp, { recursive: true });
});
