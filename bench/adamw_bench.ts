/**
 * One clipped AdamW step (torch's clip_grad_norm_ then AdamW.step) over the parameter shapes of `--layers`
 * bert-base encoder layers (default 2: 14.2M parameters), timed with and without the clip scale so the
 * scale's cost shows. Prints one JSON line of median ms per step.
 *
 *   deno run -A bench/adamw_bench.ts [--layers L] [--rounds R]
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { noGrad } from "../src/engine/tape.ts";
import { Tensor, tidy } from "../src/engine/tensor.ts";
import { AdamW, clipGradNorm } from "../src/ops/adamw.ts";
import { median, secondsPerCall } from "./_timing.ts";

const _LAYER_SHAPES = [
  [768, 768],
  [768],
  [768, 768],
  [768],
  [768, 768],
  [768],
  [768, 768],
  [768],
  [768],
  [768],
  [
    3072,
    768,
  ],
  [3072],
  [768, 3072],
  [768],
  [768],
  [768],
];

/** Runs the bench with the command line `args`. */
async function main(args: string[]): Promise<void> {
  const layers = Number(args[args.indexOf("--layers") + 1] || 0) || 2;
  const rounds = Number(args[args.indexOf("--rounds") + 1] || 0) || 3;
  await initGpu();
  const params: Tensor[] = [];
  for (let l = 0; l < layers; l++) {
    for (const shape of _LAYER_SHAPES) {
      const n = shape.reduce((a, b) => a * b, 1);
      const p = Tensor.from(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.02), shape)
        .keep();
      p.grad = Tensor.from(Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.11) * 1e-3), shape)
        .keep();
      params.push(p);
    }
  }
  const count = params.reduce((s, p) => s + p.size, 0);
  const opt = new AdamW(params.map((param) => ({ param, weightDecay: 0.01 })), { lr: 1e-4 });
  const clipped = () => noGrad(() => tidy(() => opt.step(undefined, clipGradNorm(params, 1).scale)));
  const plain = () => noGrad(() => tidy(() => opt.step()));
  const scale = Tensor.from(new Float32Array([0.5]), [1]).keep();
  const scaled = () => noGrad(() => tidy(() => opt.step(undefined, scale)));
  const norm = () => noGrad(() => tidy(() => void clipGradNorm(params, 1)));
  const ms: Record<"clipped" | "plain" | "scaled" | "norm", number[]> = {
    clipped: [],
    plain: [],
    scaled: [],
    norm: [],
  };
  for (let r = 0; r < rounds; r++) {
    ms.clipped.push(await secondsPerCall(clipped, 3) * 1000);
    ms.plain.push(await secondsPerCall(plain, 3) * 1000);
    ms.scaled.push(await secondsPerCall(scaled, 3) * 1000);
    ms.norm.push(await secondsPerCall(norm, 3) * 1000);
  }
  console.log(JSON.stringify({
    adapter: gpu().describe().description,
    parameters: count,
    ms_clip_and_step: +median(ms.clipped).toFixed(1),
    ms_step_unscaled: +median(ms.plain).toFixed(1),
    ms_step_scaled: +median(ms.scaled).toFixed(1),
    ms_clip_norm: +median(ms.norm).toFixed(1),
    ns_per_parameter: +(median(ms.clipped) * 1e6 / count).toFixed(2),
  }));
}

if (import.meta.main) await main(Deno.args);
