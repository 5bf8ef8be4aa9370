/**
 * LayerNorm (alone, and after the residual add: unfused `layerNorm(add(a, b))` against the fused
 * `addLayerNorm`), GELU and embedding at BERT-base shapes (8 sequences × 64 tokens, hidden 768, intermediate
 * 3072, cased vocabulary 28996). Each iteration encodes the op(s) 10 times and waits for the GPU once
 * (`sync`, ~10 ms on lavapipe): per-op time ≈ (time/iter − "sync only") / 10.
 * Run: `XDG_RUNTIME_DIR=/tmp deno bench -A bench/layers_bench.ts`.
 * @module
 */
import { gpu, initGpu } from "../src/engine/gpu.ts";
import { backward } from "../src/engine/tape.ts";
import { Tensor, tidy } from "../src/engine/tensor.ts";
import { embedding } from "../src/ops/embedding.ts";
import { gelu } from "../src/ops/gelu.ts";
import { addLayerNorm, layerNorm } from "../src/ops/layernorm.ts";
import { add } from "../src/ops/elementwise.ts";

await initGpu();

const T = 8 * 64, H = 768, I = 3072, V = 28996;
const REPS = 10;

function _reps(f: () => void): void {
  for (let r = 0; r < REPS; r++) tidy(f);
}

function _rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

function _param(data: Float32Array, shape: number[], name: string): Tensor {
  const t = Tensor.from(data, shape, "f32", name).keep();
  t.requiresGrad = true;
  return t;
}

function _clearGrads(...ts: Tensor[]): void {
  for (const t of ts) {
    t.grad?.dispose();
    t.grad = null;
  }
}

const x768 = _param(_rand(T * H, 1), [T, H], "x768");
const g768 = Tensor.from(_rand(T * H, 2), [T, H], "f32", "g768").keep();
const r768 = _param(_rand(T * H, 8), [T, H], "r768"); // the residual input
const lnW = _param(_rand(H, 3), [H], "ln.weight");
const lnB = _param(_rand(H, 4), [H], "ln.bias");
const x3072 = _param(_rand(T * I, 5), [T, I], "x3072");
const g3072 = Tensor.from(_rand(T * I, 6), [T, I], "f32", "g3072").keep();
const table = _param(_rand(V * H, 7), [V, H], "word_embeddings");
const ids = Tensor.from(Int32Array.from({ length: T }, (_, i) => (i * 7919) % V), [T], "i32", "ids").keep();

Deno.bench("sync only (baseline)", { group: "layers" }, async () => {
  await gpu().sync();
});

Deno.bench("layernorm forward 512×768 ×10", { group: "layers" }, async () => {
  _reps(() => {
    layerNorm(x768, lnW, lnB, 1e-12);
  });
  await gpu().sync();
});

Deno.bench("layernorm forward+backward 512×768 ×10", { group: "layers" }, async () => {
  _reps(() => {
    backward(layerNorm(x768, lnW, lnB, 1e-12), g768);
    _clearGrads(x768, lnW, lnB);
  });
  await gpu().sync();
});

Deno.bench("add + layernorm (unfused) forward 512×768 ×10", { group: "layers" }, async () => {
  _reps(() => {
    layerNorm(add(x768, r768), lnW, lnB, 1e-12);
  });
  await gpu().sync();
});

Deno.bench("addLayerNorm (fused) forward 512×768 ×10", { group: "layers" }, async () => {
  _reps(() => {
    addLayerNorm(x768, r768, lnW, lnB, 1e-12);
  });
  await gpu().sync();
});

Deno.bench("add + layernorm (unfused) forward+backward 512×768 ×10", { group: "layers" }, async () => {
  _reps(() => {
    backward(layerNorm(add(x768, r768), lnW, lnB, 1e-12), g768);
    _clearGrads(x768, r768, lnW, lnB);
  });
  await gpu().sync();
});

Deno.bench("addLayerNorm (fused) forward+backward 512×768 ×10", { group: "layers" }, async () => {
  _reps(() => {
    backward(addLayerNorm(x768, r768, lnW, lnB, 1e-12), g768);
    _clearGrads(x768, r768, lnW, lnB);
  });
  await gpu().sync();
});

Deno.bench("gelu forward 512×3072 ×10", { group: "layers" }, async () => {
  _reps(() => {
    gelu(x3072);
  });
  await gpu().sync();
});

Deno.bench("gelu forward+backward 512×3072 ×10", { group: "layers" }, async () => {
  _reps(() => {
    backward(gelu(x3072), g3072);
    _clearGrads(x3072);
  });
  await gpu().sync();
});

Deno.bench("embedding forward 512 ids, 28996×768 ×10", { group: "layers" }, async () => {
  _reps(() => {
    embedding(ids, table, 0);
  });
  await gpu().sync();
});

Deno.bench(
  "embedding forward+backward 512 ids, 28996×768 (zeroes 89 MB) ×10",
  { group: "layers" },
  async () => {
    _reps(() => {
      backward(embedding(ids, table, 0), g768);
      _clearGrads(table);
    });
    await gpu().sync();
  },
);
