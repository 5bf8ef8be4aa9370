/**
 * DeBERTa-v3-base (microsoft/deberta-v3-base shapes: vocab 128100, hidden 768, 12 layers, 12 heads,
 * relative attention with 256 log buckets, p2c|c2p, shared keys; 184M parameters, random init) at batch
 * 8 × 64: training-step (forward + backward + clip + AdamW) and forward tokens/s, plus the disentangled
 * attention kernels alone at one layer's shapes.
 *
 *   deno bench -A bench/deberta_v2_bench.ts          # Deno.bench timings
 *   deno run -A bench/deberta_v2_bench.ts --report   # one-off table with tokens/s and memory
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { backward, noGrad } from "../src/engine/tape.ts";
import { Tensor, tidy } from "../src/engine/tensor.ts";
import { makeModelConfig, randomModel } from "../src/model/registry.ts";
import { AdamW, clipGradNorm } from "../src/ops/adamw.ts";
import { relAttention, relLayout } from "../src/ops/rel_attention.ts";
import { parameterKey } from "../src/model/chunked.ts";
import { secondsPerCall } from "./_timing.ts";

await initGpu();
const B = 8, T = 64;
const LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];
// deberta-v3-base's 128100 × 768 word embedding is 393 MB: over lavapipe's 128 MiB storage-binding limit
// it is stored as row chunks (src/model/chunked.ts), so the full vocabulary runs on any device.
const VOCAB = 128100;
const config = makeModelConfig("deberta-v2", { vocab_size: VOCAB }, LABELS); // deberta-v3-base architecture
const model = randomModel(config, 1).train();
const params = [...model.params.values()];
const optimizer = new AdamW(
  model.namedParameters().map(([name, param]) => ({
    param,
    weightDecay: model.decays(parameterKey(name)) ? 0.01 : 0,
  })),
  { lr: 2e-5 },
);
const inputIds = Int32Array.from({ length: B * T }, (_, i) => 1000 + (i * 7919) % (VOCAB - 1000));
const labels = Int32Array.from({ length: B * T }, (_, i) => (i * 31) % 9);
const batch = { batch: B, seqLen: T, inputIds, labels };

function forward(): void {
  noGrad(() => tidy(() => void model.eval().forward(batch)));
}

function trainStep(): void {
  model.train();
  tidy(() => backward(model.forward(batch).loss!));
  noGrad(() =>
    tidy(() => {
      const { scale } = clipGradNorm(params, 1);
      optimizer.step(2e-5, scale);
    })
  );
  optimizer.zeroGrad();
}

/** One layer's disentangled attention forward + backward at (8, 64, 12 × 64) with 512 relative rows. */
function attentionStep(): void {
  tidy(() => {
    const hd = 768, r = 512;
    const mk = (shape: number[]) => {
      const t = Tensor.from(new Float32Array(shape.reduce((a, b) => a * b)).fill(0.01), shape);
      t.requiresGrad = true;
      return t;
    };
    const [q, k, v] = [0, 1, 2].map(() => mk([B, T, hd]));
    const [pk, pq] = [0, 1].map(() => mk([r, hd]));
    const layout = relLayout(B, T, null, { positionBuckets: 256, maxRelativePositions: 512 });
    const out = relAttention(q, k, v, pk, pq, layout, 12, { scale: Math.sqrt(64 * 3) });
    backward(out, Tensor.from(new Float32Array(out.size).fill(1), out.shape));
  });
}

if (Deno.args.includes("--report")) {
  const att = await secondsPerCall(attentionStep, 3);
  const fwd = await secondsPerCall(forward, 2);
  const step = await secondsPerCall(trainStep, 2);
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  const n = model.numParameters();
  console.log(
    `vocabulary ${VOCAB}; parameters: ${(n / 1e6).toFixed(1)}M; params+grads+AdamW moments = ${
      mib(16 * n)
    } MiB fp32`,
  );
  console.log(`GPU pool after a step: allocated ${mib(gpu().memory().allocatedBytes)} MiB`);
  console.log(`rel_attention fwd+bwd, one layer 8x64x768: ${(att * 1000).toFixed(0)} ms`);
  console.log(`forward 8x64: ${(fwd * 1000).toFixed(0)} ms = ${(B * T / fwd).toFixed(0)} tokens/s`);
  console.log(`train step 8x64: ${(step * 1000).toFixed(0)} ms = ${(B * T / step).toFixed(0)} tokens/s`);
} else {
  Deno.bench("deberta-v3-base rel_attention fwd+bwd, one layer 8x64", { n: 3, warmup: 1 }, async () => {
    attentionStep();
    await gpu().sync();
  });
  Deno.bench("deberta-v3-base forward 8x64", { n: 2, warmup: 1 }, async () => {
    forward();
    await gpu().sync();
  });
  Deno.bench("deberta-v3-base train step 8x64", { n: 2, warmup: 1 }, async () => {
    trainStep();
    await gpu().sync();
  });
}
