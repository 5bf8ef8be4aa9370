// A two-layer transformer block stack built directly from the ops (embedding, linear, attention, residual
// add, layerNorm, GELU, dropout, cross-entropy, AdamW with clipping) learns a toy task: label each token
// with the id of the token before it (which needs attention). Its loss falls, and the GPU memory in use is
// flat over 50 full training steps.
import { assert, assertEquals } from "../_assert.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { backward, noGrad } from "../../src/engine/tape.ts";
import { Tensor, tidy } from "../../src/engine/tensor.ts";
import { AdamW, clipGradNorm } from "../../src/ops/adamw.ts";
import { attention } from "../../src/ops/attention.ts";
import { crossEntropy } from "../../src/ops/cross_entropy.ts";
import { dropout } from "../../src/ops/dropout.ts";
import { add, reshape } from "../../src/ops/elementwise.ts";
import { embedding } from "../../src/ops/embedding.ts";
import { gelu } from "../../src/ops/gelu.ts";
import { layerNorm } from "../../src/ops/layernorm.ts";
import { linear } from "../../src/ops/matmul.ts";
import { randn, rng, setupGpu } from "../_util.ts";

await setupGpu();
const V = 8, C = 32, HEADS = 4, FF = 64, B = 8, T = 12;

function param(shape: number[], seed: number, std = 0.1, value?: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = value === undefined ? randn(n, seed, std) : new Float32Array(n).fill(value);
  const t = Tensor.from(data, shape, "f32", `p${seed}`).keep();
  t.requiresGrad = true;
  return t;
}

function makeModel() {
  let s = 1;
  const layer = () => ({
    q: param([C, C], s++),
    k: param([C, C], s++),
    v: param([C, C], s++),
    o: param([C, C], s++),
    ln1w: param([C], s++, 0, 1),
    ln1b: param([C], s++, 0, 0),
    f1: param([FF, C], s++),
    f1b: param([FF], s++, 0, 0),
    f2: param([C, FF], s++),
    f2b: param([C], s++, 0, 0),
    ln2w: param([C], s++, 0, 1),
    ln2b: param([C], s++, 0, 0),
  });
  return {
    tok: param([V, C], s++, 0.5),
    pos: param([T, C], s++, 0.5),
    layers: [layer(), layer()],
    head: param([V, C], s++),
  };
}

type Model = ReturnType<typeof makeModel>;

function params(m: Model): Tensor[] {
  return [m.tok, m.pos, m.head, ...m.layers.flatMap((l) => Object.values(l))];
}

function batch(seed: number) {
  const u = rng(seed);
  const ids = Int32Array.from({ length: B * T }, () => Math.floor(u() * V));
  const labels = Int32Array.from(ids, (_, i) => i % T === 0 ? -100 : ids[i - 1]);
  return { ids, labels };
}

function lossOf(m: Model, ids: Int32Array, labels: Int32Array, step: number): Tensor {
  const pos = Tensor.from(Int32Array.from({ length: B * T }, (_, i) => i % T), [B, T], "i32");
  let x = add(embedding(Tensor.from(ids, [B, T], "i32"), m.tok), embedding(pos, m.pos));
  const mask = Tensor.from(new Float32Array(B * T).fill(1), [B, T]);
  m.layers.forEach((l, i) => {
    const a = attention(linear(x, l.q), linear(x, l.k), linear(x, l.v), mask, HEADS);
    x = layerNorm(add(x, dropout(linear(a, l.o), 0.05, step * 7 + i)), l.ln1w, l.ln1b, 1e-5);
    const f = linear(gelu(linear(x, l.f1, l.f1b)), l.f2, l.f2b);
    x = layerNorm(add(x, f), l.ln2w, l.ln2b, 1e-5);
  });
  const logits = linear(x, m.head);
  return crossEntropy(reshape(logits, [B * T, V]), Tensor.from(labels, [B * T], "i32"));
}

function trainStep(m: Model, opt: AdamW, step: number): Tensor {
  const { ids, labels } = batch(step);
  const loss = tidy(() => {
    const loss = lossOf(m, ids, labels, step);
    backward(loss);
    return loss;
  });
  noGrad(() => tidy(() => opt.step(3e-3, clipGradNorm(params(m), 1).scale)));
  opt.zeroGrad();
  return loss;
}

Deno.test("toy transformer: two blocks built from the ops learn 'previous token'; memory is flat", async () => {
  const m = makeModel();
  const opt = new AdamW(params(m).map((p) => ({ param: p, weightDecay: 0.01 })), { lr: 3e-3 });
  const losses: number[] = [];
  let base = 0;
  for (let step = 0; step < 150; step++) {
    const loss = trainStep(m, opt, step);
    if (step % 10 === 0 || step >= 140) losses.push((await loss.read())[0]);
    loss.dispose();
    if (step === 99) base = gpu().memory().inUseBytes;
    if (step === 149) assertEquals(gpu().memory().inUseBytes, base, "memory in use over steps 100..149");
  }
  const first = losses[0], last = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
  assert(first > 1.8, `initial loss ${first} should be near ln(8) = 2.08`);
  assert(last < 0.2, `loss did not fall enough: ${first} -> ${last}`);
  opt.dispose();
  for (const p of params(m)) {
    p.persistent = false;
    p.dispose();
  }
});
