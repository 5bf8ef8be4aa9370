/**
 * A/B of one engine switch on the demo recipe's training step (bench/_demo_step.ts: 2 layers × 128, batch
 * 32 × 32, clipped AdamW), both settings in one process on one model, rounds alternating so that machine
 * noise hits both. Prints one JSON line: the median steps/s of each setting and their ratio.
 *
 *   deno run -A bench/demo_ab_bench.ts multi|staged|bindgroups|subgroups|attn-subgroups|dropout-fusion|ln-columns [--rounds R] [--iters N]
 *
 * `multi`: multi-tensor AdamW and clipping norm (src/ops/adamw_multi.ts) off vs on. `staged`: staged loads
 * (src/engine/staged_loads.ts) off vs on (they matter on lavapipe only). `bindgroups`: bind-group reuse
 * (src/engine/bind_groups.ts) off vs on. `subgroups`: the subgroup kernels of matmul (mm_sg4) and attention
 * (the D = 64 row loaders) off vs on; `attn-subgroups`: attention's alone. `dropout-fusion`: the hidden
 * dropout inside the residual add + LayerNorm kernels (src/ops/layernorm.ts) vs a separate dropout pass.
 * `ln-columns`: LayerNorm's weight and bias read through staged loads (with its rows) vs storage buffers.
 * @module
 */
import { setBindGroupReuse } from "../src/engine/bind_groups.ts";
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { setStagedLoads } from "../src/engine/staged_loads.ts";
import { BertForTokenClassification } from "../src/model/bert.ts";
import { makeBertConfig } from "../src/model/config.ts";
import { setMultiTensorAdamW } from "../src/ops/adamw_multi.ts";
import { setAttentionSubgroups } from "../src/ops/attention.ts";
import { setTextureSubgroups } from "../src/ops/matmul.ts";
import { setLayerNormColumnStaging, setLayerNormDropoutFusion } from "../src/ops/layernorm.ts";
import { benchAdamW, benchBatch, DEMO_CONFIG, timedSeconds, trainStepFn } from "./_demo_step.ts";
import { median } from "./_timing.ts";

const SWITCHES: Record<string, (on: boolean) => void> = {
  multi: (on) => setMultiTensorAdamW(on),
  staged: (on) => setStagedLoads(on ? "on" : "off"),
  bindgroups: (on) => setBindGroupReuse(on),
  subgroups: (on) => {
    setTextureSubgroups(on ? "auto" : "off");
    setAttentionSubgroups(on ? "auto" : "off");
  },
  "attn-subgroups": (on) => setAttentionSubgroups(on ? "auto" : "off"),
  "dropout-fusion": (on) => setLayerNormDropoutFusion(on ? "auto" : "off"),
  "ln-columns": (on) => setLayerNormColumnStaging(on),
};

/** Runs the A/B with the command line `args`. */
async function main(args: string[]): Promise<void> {
  const name = args[0];
  const flip = SWITCHES[name];
  if (!flip) {
    throw new Error(`demo_ab_bench: expected one of ${Object.keys(SWITCHES).join(", ")}, got '${name}'`);
  }
  const arg = (k: string, d: number) => Number(args[args.indexOf(k) + 1] || 0) || d;
  const rounds = arg("--rounds", 3), iters = arg("--iters", 10);

  await initGpu();
  const model = BertForTokenClassification.random(makeBertConfig(DEMO_CONFIG), 1).train();
  const step = trainStepFn(model, benchAdamW(model, 1e-3), benchBatch(32, 32), 1e-3);
  const seconds: Record<"off" | "on", number[]> = { off: [], on: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of ["off", "on"] as const) {
      flip(mode === "on");
      seconds[mode].push(await timedSeconds(step, iters, 2));
    }
  }
  flip(true);
  const off = 1 / median(seconds.off), on = 1 / median(seconds.on);
  console.log(JSON.stringify({
    switch: name,
    adapter: gpu().describe().description,
    steps_per_s_off: +off.toFixed(3),
    steps_per_s_on: +on.toFixed(3),
    on_over_off: +(on / off).toFixed(3),
  }));
}

if (import.meta.main) await main(Deno.args);
