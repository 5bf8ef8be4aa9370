// addLayerNorm (the residual add fused into LayerNorm, kernels/layernorm.wgsl add_forward(4) and
// add_backward_dx(4)): against a float64 CPU reference at uneven shapes, bitwise against the unfused
// layerNorm(add(a, b)) path, against central finite differences, and a dispatch trace proving a BERT layer
// runs the fused kernels and no elementwise.add; with dropout fused (addLayerNorm's `drop`), bitwise the
// separate dropout pass then addLayerNorm, and a training-mode BERT runs no dropout pass in its layers.
import {
  addLayerNorm,
  layerNorm,
  setLayerNormDropoutFusion,
  setLayerNormPath,
  setLayerNormWorkgroupSize,
} from "../../src/ops/layernorm.ts";
import { dropout } from "../../src/ops/dropout.ts";
import { add } from "../../src/ops/elementwise.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { backward, noGrad } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { BertForTokenClassification } from "../../src/model/bert.ts";
import { makeBertConfig } from "../../src/model/config.ts";
import { makeModelConfig, randomModel } from "../../src/model/registry.ts";
import { bertLayer } from "../../src/model/encoder.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { assertClose, dot, f64, finiteDiff, randn, setupGpu } from "../_util.ts";
import { layerNormBackwardRef, layerNormRef } from "../ref/layernorm.ts";

await setupGpu();

const FWD = { atol: 2e-5, rtol: 1e-5 };
const BWD = { atol: 2e-5, rtol: 1e-4 };
const EXACT = { atol: 0, rtol: 0 };

function inputs(shape: number[], seed: number) {
  const C = shape[shape.length - 1];
  const n = shape.reduce((x, y) => x * y, 1);
  return {
    C,
    a: randn(n, seed),
    b: randn(n, seed + 1, 0.7),
    w: randn(C, seed + 2).map((v) => 1 + 0.5 * v),
    bias: randn(C, seed + 3, 0.5),
    g: randn(n, seed + 4),
  };
}

type In = ReturnType<typeof inputs>;

/** Forward `f(a, b, w, bias)` + backward with gradient g on the GPU: y and every input's gradient. */
async function forwardBackward(
  x: In,
  shape: number[],
  f: (a: Tensor, b: Tensor, w: Tensor, bias: Tensor) => Tensor,
) {
  return await tidy(async () => {
    const ta = Tensor.from(x.a, shape), tb = Tensor.from(x.b, shape);
    const tw = Tensor.from(x.w, [x.C]), tbias = Tensor.from(x.bias, [x.C]);
    const leaves = [ta, tb, tw, tbias];
    for (const t of leaves) t.requiresGrad = true;
    const y = f(ta, tb, tw, tbias);
    backward(y, Tensor.from(x.g, shape));
    const [yy, da, db, dw, dbias] = await readAll([y, ...leaves.map((t) => t.grad!)]);
    for (const t of leaves) t.grad!.dispose();
    return { y: yy, da, db, dw, dbias };
  });
}

/** Forward + backward on the GPU, fused (addLayerNorm) or unfused (layerNorm(add(a, b))). */
function runGpu(x: In, shape: number[], fused: boolean, eps = 1e-12) {
  return forwardBackward(
    x,
    shape,
    (a, b, w, bias) => fused ? addLayerNorm(a, b, w, bias, eps) : layerNorm(add(a, b), w, bias, eps),
  );
}

/** The CPU reference: s = a + b rounded to f32 (as the GPU stores it), then float64 LayerNorm. */
function reference(x: In, eps: number) {
  const s = x.a.map((v, i) => v + x.b[i]); // Float32Array: rounds like the GPU's f32 add
  const y = layerNormRef(s, x.w, x.bias, x.C, eps);
  const { dx, dw, db } = layerNormBackwardRef(s, x.w, x.g, x.C, eps);
  return { y, dx, dw, db };
}

const SHAPES: number[][] = [
  [7, 37], // scalar kernels, C not a multiple of the workgroup
  [257, 128], // vec4 kernels; 257 rows: backward row blocks of 3 with a short last block
  [3, 45, 770], // 770 % 4 = 2: scalar kernels across 135 rows
  [2, 33, 36], // vec4, C/4 = 9 not a multiple of the workgroup
];

Deno.test("addLayerNorm: forward and backward match the float64 reference at uneven shapes", async () => {
  for (const [k, shape] of [...SHAPES, [0, 8]].entries()) { // [0, 8]: no rows, zero dweight and dbias
    const x = inputs(shape, 10 * k + 1);
    const eps = k % 2 ? 1e-5 : 1e-12;
    const out = await runGpu(x, shape, true, eps);
    const ref = reference(x, eps);
    assertClose(out.y, ref.y, FWD, `y [${shape}]`);
    assertClose(out.da, ref.dx, BWD, `da [${shape}]`);
    assertClose(out.db, ref.dx, BWD, `db [${shape}]`);
    assertClose(out.dw, ref.dw, BWD, `dweight [${shape}]`);
    assertClose(out.dbias, ref.db, BWD, `dbias [${shape}]`);
  }
});

Deno.test("addLayerNorm: bitwise equal to layerNorm(add(a, b)) forward and backward, both paths, every workgroup size", async () => {
  try {
    for (const path of ["rows", "workgroup"] as const) {
      setLayerNormPath(path);
      for (const wg of [null, 1, 32, 64, 256]) {
        setLayerNormWorkgroupSize(wg);
        for (const [k, shape] of SHAPES.entries()) {
          const x = inputs(shape, 100 + k);
          const { result: fused, labels } = await traceDispatches(() => runGpu(x, shape, true, 1e-5));
          const plain = await runGpu(x, shape, false, 1e-5);
          const kind = path === "rows" ? "_rows" : "";
          assert(labels.includes(`layernorm.add_forward${kind}`), `${path}: ${labels}`);
          assert(labels.includes(`layernorm.add_backward_dx${kind}`), `${path}: ${labels}`);
          for (const key of ["y", "da", "db", "dw", "dbias"] as const) {
            assertClose(fused[key], plain[key], EXACT, `${key} [${shape}] ${path} wg ${wg ?? "default"}`);
          }
        }
      }
    }
  } finally {
    setLayerNormWorkgroupSize(null);
    setLayerNormPath("auto");
  }
});

Deno.test("addLayerNorm without gradients: the rows kernel skips storing a + b, bitwise the same y", async () => {
  try {
    for (const path of ["rows", "workgroup"] as const) {
      setLayerNormPath(path);
      for (const [k, shape] of SHAPES.entries()) {
        const x = inputs(shape, 400 + k);
        const trained = await runGpu(x, shape, true, 1e-5);
        const { result: y, labels } = await traceDispatches(() =>
          tidy(() =>
            addLayerNorm(
              Tensor.from(x.a, shape),
              Tensor.from(x.b, shape),
              Tensor.from(x.w, [x.C]),
              Tensor.from(x.bias, [x.C]),
              1e-5,
            ).read()
          )
        );
        assertClose(y, trained.y, EXACT, `y [${shape}] ${path}`);
        // only the vec4 rows kernel (C % 4 == 0) has the variant; the others store a + b as before
        const skips = path === "rows" && x.C % 4 === 0;
        const kind = path === "rows" ? "_rows" : "";
        assert(labels.includes(`layernorm.add_forward${kind}${skips ? "_nosum" : ""}`), `${path}: ${labels}`);
      }
    }
  } finally {
    setLayerNormPath("auto");
  }
});

Deno.test("addLayerNorm: backward equals central finite differences of the float64 forward", async () => {
  for (const shape of [[5, 13], [3, 36]]) {
    const x = inputs(shape, 200 + shape[1]);
    const eps = 1e-5;
    const out = await runGpu(x, shape, true, eps);
    const loss = ([a, b, w, bias]: Float64Array[]) =>
      dot(layerNormRef(a.map((v, i) => v + b[i]), w, bias, x.C, eps), x.g);
    const ins = [f64(x.a), f64(x.b), f64(x.w), f64(x.bias)];
    const tol = { atol: 1e-4, rtol: 1e-4 };
    assertClose(out.da, finiteDiff(loss, ins, 0), tol, `da vs FD [${shape}]`);
    assertClose(out.db, finiteDiff(loss, ins, 1), tol, `db vs FD [${shape}]`);
    assertClose(out.dw, finiteDiff(loss, ins, 2), tol, `dweight vs FD [${shape}]`);
    assertClose(out.dbias, finiteDiff(loss, ins, 3), tol, `dbias vs FD [${shape}]`);
  }
});

Deno.test("addLayerNorm: saved tensors are released, with and without a gradient", async () => {
  const shape = [40, 64];
  const x = inputs(shape, 300);
  await runGpu(x, shape, true); // warm the pool
  const before = gpu().memory().inUseBytes;
  await runGpu(x, shape, true);
  const y = await tidy(() =>
    noGrad(() => {
      const leaf = Tensor.from(x.a, shape);
      leaf.requiresGrad = true;
      return addLayerNorm(
        leaf,
        Tensor.from(x.b, shape),
        Tensor.from(x.w, [64]),
        Tensor.from(x.bias, [64]),
        1e-5,
      )
        .read();
    })
  );
  assertClose(y, reference(x, 1e-5).y, FWD, "y under noGrad");
  const after = gpu().memory().inUseBytes;
  assertEquals(after, before, "GPU memory in use changed");
});

Deno.test("addLayerNorm: mismatched shapes and widths are one-line errors", () => {
  tidy(() => {
    const a = Tensor.from(new Float32Array(12), [3, 4]);
    const w = Tensor.from(new Float32Array(4), [4]);
    assertThrows(() => addLayerNorm(a, Tensor.from(new Float32Array(12), [4, 3]), w, w, 1e-5), RangeError);
    assertThrows(() => addLayerNorm(a, a, Tensor.from(new Float32Array(3), [3]), w, 1e-5), RangeError);
  });
});

/** A tiny 2-layer encoder (hidden 36: vec4 LayerNorms). */
const TINY = {
  vocab_size: 50,
  hidden_size: 36,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 40,
  max_position_embeddings: 16,
};

/** CPU adapters take the one-invocation-per-row kernels (setLayerNormPath): their labels end in _rows. */
const ROWS = gpu().adapterInfo.isFallbackAdapter ? "_rows" : "";
const ADD_FORWARD = `layernorm.add_forward${ROWS}`;

Deno.test("addLayerNorm: a BERT layer runs the fused kernels and no elementwise.add, forward and backward", async () => {
  const cfg = makeBertConfig({ ...TINY, labels: ["O", "B-X", "I-X"] });
  const model = BertForTokenClassification.random(cfg, 3);
  model.eval();
  const [B, T, H] = [2, 5, 36];
  await tidy(async () => {
    const x = Tensor.from(randn(B * T * H, 400), [B, T, H]);
    x.requiresGrad = true;
    const mask = Tensor.from(new Float32Array(B * T).fill(1), [B, T]);
    const fwd = await traceDispatches(() => bertLayer(model, "bert.encoder.layer.0", x, mask, cfg));
    const count = (labels: string[], l: string) => labels.filter((s) => s === l).length;
    assertEquals(count(fwd.labels, ADD_FORWARD), 2, fwd.labels.join(" "));
    assertEquals(fwd.labels.filter((l) => l.startsWith("layernorm.forward")).length, 0, fwd.labels.join(" "));
    assertEquals(
      count(fwd.labels, "elementwise.add") + count(fwd.labels, "elementwise.add4"),
      0,
      fwd.labels.join(" "),
    );
    const bwd = await traceDispatches(() =>
      backward(fwd.result, Tensor.from(randn(B * T * H, 401), [B, T, H]))
    );
    assertEquals(count(bwd.labels, `layernorm.add_backward_dx${ROWS}`), 2, bwd.labels.join(" "));
    assertEquals(
      bwd.labels.filter((l) => l.startsWith("layernorm.backward_dx")).length,
      0,
      bwd.labels.join(" "),
    );
    assert(x.grad !== null, "the layer input got a gradient");
    x.grad!.dispose();
  });
  // The whole model: both LayerNorms of every layer and the embedding LayerNorm are fused; the one
  // elementwise.add left is the embeddings' word + position sum.
  await tidy(async () => {
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 50);
    const { labels } = await traceDispatches(() => model.forward({ batch: B, seqLen: T, inputIds: ids }));
    assertEquals(labels.filter((s) => s === ADD_FORWARD).length, 2 * 2 + 1);
    assertEquals(labels.filter((s) => s.startsWith("layernorm.forward")).length, 0);
    // (elementwise.add4 where the width is a multiple of 4)
    assertEquals(labels.filter((s) => s === "elementwise.add" || s === "elementwise.add4").length, 1);
  });
  model.dispose();
});

/** Forward + backward of LayerNorm(dropout(a) + b): the dropout fused (`drop`) or a separate pass first. */
function runDropout(x: In, shape: number[], fused: boolean, p: number, seed: number) {
  return forwardBackward(
    x,
    shape,
    (a, b, w, bias) =>
      fused
        ? addLayerNorm(a, b, w, bias, 1e-5, { p, seed })
        : addLayerNorm(dropout(a, p, seed), b, w, bias, 1e-5),
  );
}

Deno.test("addLayerNorm with dropout: bitwise dropout() then addLayerNorm, both paths; fused only where C % 4 == 0", async () => {
  try {
    for (const path of ["rows", "workgroup"] as const) {
      setLayerNormPath(path);
      const kind = path === "rows" ? "_rows" : "";
      for (const [k, shape] of SHAPES.entries()) {
        for (const [p, seed] of [[0.1, 7], [0.5, 0xfffffffe], [1, 3]]) {
          const x = inputs(shape, 500 + k);
          const { result: fused, labels } = await traceDispatches(() => runDropout(x, shape, true, p, seed));
          const plain = await runDropout(x, shape, false, p, seed);
          const at = `[${shape}] ${path} p ${p}`;
          if (shape[shape.length - 1] % 4 === 0) {
            assert(labels.includes(`layernorm.add_dropout_forward${kind}`), `${at}: ${labels}`);
            assert(labels.includes(`layernorm.add_dropout_backward_dx${kind}`), `${at}: ${labels}`);
            assert(!labels.some((l) => l.startsWith("dropout.")), `${at}: ${labels}`);
          } else {
            assert(
              labels.includes("dropout.forward") && labels.includes("dropout.backward"),
              `${at}: ${labels}`,
            );
          }
          for (const key of ["y", "da", "db", "dw", "dbias"] as const) {
            assertClose(fused[key], plain[key], EXACT, `${key} ${at}`);
          }
          // The mask is real: p = 0.5 zeroes about half of da (db keeps them), p = 1 all of it.
          const zeros = fused.da.filter((v) => v === 0).length / fused.da.length;
          if (p === 0.5) assert(zeros > 0.4 && zeros < 0.6, `${at}: ${zeros} of da is 0`);
          if (p === 1) assertEquals(zeros, 1, at);
          assert(fused.db.filter((v) => v === 0).length < fused.db.length * 0.05, `${at}: db zeroed`);
        }
      }
    }
  } finally {
    setLayerNormPath("auto");
  }
});

Deno.test("addLayerNorm with dropout: p = 0 is no dropout; bad p or seed are one-line errors", async () => {
  const shape = [9, 36];
  const x = inputs(shape, 600);
  const withP0 = await runDropout(x, shape, true, 0, 5);
  const plain = await runGpu(x, shape, true, 1e-5);
  for (const key of ["y", "da", "db", "dw", "dbias"] as const) {
    assertClose(withP0[key], plain[key], EXACT, key);
  }
  tidy(() => {
    const a = Tensor.from(new Float32Array(8), [2, 4]);
    const w = Tensor.from(new Float32Array(4), [4]);
    assertThrows(
      () => addLayerNorm(a, a, w, w, 1e-5, { p: 1.5, seed: 1 }),
      RangeError,
      "p must be in [0, 1]",
    );
    assertThrows(() => addLayerNorm(a, a, w, w, 1e-5, { p: 0.1, seed: 0.5 }), RangeError, "seed");
  });
});

Deno.test("addLayerNorm with dropout: training-mode BERT and DistilBERT run no dropout pass beside their residual LayerNorms, and fusion changes no value", async () => {
  const [B, T] = [2, 7];
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 11) % 50);
  const labelIds = Int32Array.from({ length: B * T }, (_, i) => i % 5 === 0 ? -100 : i % 3);
  // fused residual LayerNorms per layer with dropout: BERT's attention output and output; DistilBERT's FFN
  for (const [type, fusedPerLayer] of [["bert", 2], ["distilbert", 1]] as const) {
    const config = makeModelConfig(type, TINY, ["O", "B-X", "I-X"]);
    Object.assign(config, type === "bert" ? { hidden_dropout_prob: 0.3 } : { dropout: 0.3 });
    const step = async () => {
      const model = randomModel(config, 5).train();
      const out = await tidy(async () => {
        const { result, labels } = await traceDispatches(() =>
          model.forward({ batch: B, seqLen: T, inputIds: ids, labels: labelIds })
        );
        backward(result.loss!);
        const grads = await readAll([...model.params.values()].map((t) => t.grad!));
        return { logits: await result.logits.read(), grads, labels };
      });
      for (const t of model.params.values()) t.grad?.dispose();
      model.dispose();
      return out;
    };
    const fused = await step();
    setLayerNormDropoutFusion("off");
    let plain;
    try {
      plain = await step();
    } finally {
      setLayerNormDropoutFusion("auto");
    }
    const count = (l: string[], s: string) => l.filter((x) => x === s).length;
    const fusedLn = `layernorm.add_dropout_forward${ROWS}`;
    // the dropouts left are the embeddings' (after their LayerNorm) and the head's
    assertEquals(count(fused.labels, fusedLn), 2 * fusedPerLayer, `${type}: ${fused.labels.join(" ")}`);
    assertEquals(count(fused.labels, "dropout.forward"), 2, `${type}: ${fused.labels.join(" ")}`);
    assertEquals(count(plain.labels, fusedLn), 0, type);
    assertEquals(count(plain.labels, "dropout.forward"), 2 + 2 * fusedPerLayer, type);
    assertClose(fused.logits, plain.logits, EXACT, `${type} logits`);
    fused.grads.forEach((g, i) => assertClose(g, plain.grads[i], EXACT, `${type} grad ${i}`));
  }
});
