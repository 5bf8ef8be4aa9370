/**
 * The row-sparse word-embedding gradient (src/ops/embedding_grad.ts): the gradient buffer is kept and only
 * its touched rows are cleared (a second step with other ids equals the dense reference: no stale rows),
 * the clipping norm over the touched rows equals the dense norm (float64 reference and the dense GPU sum)
 * within 1e-6 relative, gradient accumulation over micro-batches with shared rows, row chunks, a buffer
 * written outside its rows (the data-parallel all-reduce), gradients the caller keeps, and a BERT step
 * against the dense path — with the row kernels proved to run by the dispatch trace.
 */
import { assert, assertEquals } from "../_assert.ts";
import { embedding } from "../../src/ops/embedding.ts";
import { markRowSparseGradDense, setRowSparseGrads } from "../../src/ops/embedding_grad.ts";
import { AdamW, clipGradNorm, gradNorm } from "../../src/ops/adamw.ts";
import { copy } from "../../src/ops/elementwise.ts";
import { backward, noGrad } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { BertForTokenClassification } from "../../src/model/bert.ts";
import { makeBertConfig } from "../../src/model/config.ts";
import { assertClose, randn, rng, setupGpu } from "../_util.ts";
import { embeddingBackwardRef } from "../ref/embedding.ts";

await setupGpu();

const BWD = { atol: 1e-5, rtol: 1e-5 };
const NORM_RTOL = 1e-6;

/** `n` ids over `V` rows with repeats (from `distinct` rows), the padding id and the last row. */
function makeIds(n: number, V: number, distinct: number, seed: number, pad: number): Int32Array {
  const u = rng(seed);
  const pool = Array.from({ length: distinct }, () => Math.floor(u() * V));
  const ids = Int32Array.from({ length: n }, () => pool[Math.floor(u() * distinct)]);
  for (let k = 0; k < 5; k++) ids[(k * 37) % n] = pad;
  ids[n - 1] = V - 1;
  return ids;
}

function norm64(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

function relDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b);
}

/** A trainable table (or row chunks `rows`) of V×C from seed `seed`. */
function makeTables(V: number, C: number, rows: number[] | null, seed: number): Tensor[] {
  const w = randn(V * C, seed);
  const sizes = rows ?? [V];
  let r0 = 0;
  return sizes.map((r) => {
    const t = Tensor.from(w.slice(r0 * C, (r0 + r) * C), [r, C], "f32", `table${r0}`).keep();
    t.requiresGrad = true;
    r0 += r;
    return t;
  });
}

/** One lookup + backward with a random upstream gradient; returns that gradient. */
function step(tables: Tensor[], ids: Int32Array, C: number, pad: number, seed: number): Float32Array {
  const g = randn(ids.length * C, seed);
  tidy(() => {
    const y = embedding(Tensor.from(ids, [ids.length], "i32"), tables.length > 1 ? tables : tables[0], pad);
    backward(y, Tensor.from(g, [ids.length, C]));
  });
  return g;
}

/** The chunks' gradients joined into the whole (V, C) table's. */
async function joinedGrad(tables: Tensor[]): Promise<Float32Array> {
  const parts = await readAll(tables.map((t) => t.grad!));
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p as Float32Array, o), o += p.length;
  return out;
}

/** The GPU norm of the row-sparse gradients and the dense GPU norm of copies of them (float). */
async function norms(tables: Tensor[]): Promise<{ sparse: number; dense: number; labels: string[] }> {
  return await noGrad(() =>
    tidy(async () => {
      const { result: n, labels } = await traceDispatches(() => gradNorm(tables.map((t) => t.grad!)));
      const dense = gradNorm(tables.map((t) => copy(t.grad!)));
      const [a, b] = await readAll([n, dense]);
      return { sparse: a[0], dense: b[0], labels };
    })
  );
}

function sumRef(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts[0].length);
  for (const p of parts) for (let i = 0; i < p.length; i++) out[i] += p[i];
  return out;
}

for (const C of [37, 36]) {
  Deno.test(`row-sparse gradient: V 1013 × C ${C}: norm = dense norm, second step clears stale rows, accumulation over 2 micro-batches`, async () => {
    const V = 1013, pad = 3;
    const tables = makeTables(V, C, null, 1);
    const opt = new AdamW(tables.map((param) => ({ param, weightDecay: 0 })), { lr: 1e-3 });
    try {
      // Step 1: 300 tokens from 60 rows, padding and the last row.
      const ids1 = makeIds(300, V, 60, 2, pad);
      const { result: g1, labels: bwd } = await traceDispatches(() => step(tables, ids1, C, pad, 3));
      for (const l of ["embedding.claim_rows", "embedding.select_rows", "embedding.backward"]) {
        assert(bwd.includes(l), `${l} ran in the backward: ${bwd}`);
      }
      const ref1 = embeddingBackwardRef(ids1, g1, V, C, pad);
      const grad1 = tables[0].grad!;
      assertClose(await joinedGrad(tables), ref1, BWD, "step 1 gradient");
      const n1 = await norms(tables);
      assert(
        n1.labels.includes(C % 4 ? "adamw.sumsq_rows" : "adamw.sumsq_rows4"),
        `sparse norm: ${n1.labels}`,
      );
      assert(!n1.labels.some((l) => l.startsWith("adamw.sumsq_partial")), `no dense sum: ${n1.labels}`);
      assert(relDiff(n1.sparse, norm64(ref1)) <= NORM_RTOL, `norm ${n1.sparse} vs float64 ${norm64(ref1)}`);
      assert(relDiff(n1.sparse, n1.dense) <= NORM_RTOL, `norm ${n1.sparse} vs dense ${n1.dense}`);
      console.log(`C ${C}: sparse vs dense GPU norm relative difference ${relDiff(n1.sparse, n1.dense)}`);

      // zeroGrad keeps the buffer and clears only the touched rows.
      const { labels: zero } = await traceDispatches(() => opt.zeroGrad());
      assertEquals(tables[0].grad, null);
      assert(zero.includes(C % 4 ? "embedding.clear_rows" : "embedding.clear_rows4"), `zeroGrad: ${zero}`);

      // Step 2: other ids (a few shared with step 1), two micro-batches accumulated; rows in both.
      const ids2a = makeIds(211, V, 50, 4, pad), ids2b = makeIds(157, V, 40, 5, pad);
      ids2b.set(ids2a.subarray(0, 20), 30); // rows shared by both micro-batches
      const g2a = step(tables, ids2a, C, pad, 6);
      assert(tables[0].grad === grad1, "the released buffer is reused");
      const g2b = step(tables, ids2b, C, pad, 7);
      const ref2 = sumRef([
        embeddingBackwardRef(ids2a, g2a, V, C, pad),
        embeddingBackwardRef(ids2b, g2b, V, C, pad),
      ]);
      const got2 = await joinedGrad(tables);
      assertClose(got2, ref2, BWD, "step 2 (2 micro-batches) gradient");
      const touched = new Set([...ids2a, ...ids2b]);
      for (let r = 0; r < V; r++) {
        if (touched.has(r)) continue;
        for (let c = 0; c < C; c++) assertEquals(got2[r * C + c], 0, `stale row ${r} cleared`);
      }
      const n2 = await norms(tables);
      assert(relDiff(n2.sparse, norm64(ref2)) <= NORM_RTOL, `norm ${n2.sparse} vs float64 ${norm64(ref2)}`);
      assert(relDiff(n2.sparse, n2.dense) <= NORM_RTOL, `norm ${n2.sparse} vs dense ${n2.dense}`);

      // clipGradNorm takes the same path.
      const clip = await noGrad(() =>
        tidy(async () => {
          const c = clipGradNorm(tables, 1);
          return (await readAll([c.norm]))[0][0];
        })
      );
      assert(relDiff(clip, norm64(ref2)) <= NORM_RTOL, `clip norm ${clip}`);
      opt.zeroGrad();
    } finally {
      opt.dispose();
      tables.forEach((t) => t.dispose());
    }
  });
}

Deno.test("row-sparse gradient: row chunks (pad in a later chunk) over two steps with different ids", async () => {
  const V = 1013, C = 40, pad = 700, rows = [400, 400, 213];
  const tables = makeTables(V, C, rows, 11);
  const opt = new AdamW(tables.map((param) => ({ param, weightDecay: 0.01 })), { lr: 1e-3 });
  try {
    for (const [k, seed] of [[0, 12], [1, 13]]) {
      const ids = makeIds(333 + 50 * k, V, 80, seed, pad);
      const { result: g, labels } = await traceDispatches(() => step(tables, ids, C, pad, seed + 100));
      assertEquals(
        labels.filter((l) => l === "embedding.select_rows").length,
        3,
        `one list per chunk: ${labels}`,
      );
      const ref = embeddingBackwardRef(ids, g, V, C, pad);
      assertClose(await joinedGrad(tables), ref, BWD, `chunked gradient, step ${k + 1}`);
      const n = await norms(tables);
      assert(n.labels.filter((l) => l === "adamw.sumsq_rows4").length === 3, `${n.labels}`);
      assert(relDiff(n.sparse, norm64(ref)) <= NORM_RTOL, `step ${k + 1}: ${n.sparse} vs ${norm64(ref)}`);
      assert(relDiff(n.sparse, n.dense) <= NORM_RTOL, `step ${k + 1}: ${n.sparse} vs dense ${n.dense}`);
      opt.zeroGrad();
    }
  } finally {
    opt.dispose();
    tables.forEach((t) => t.dispose());
  }
});

Deno.test("row-sparse gradient: written outside its rows (all-reduce) it is summed and cleared whole", async () => {
  const V = 517, C = 36, pad = 0;
  const tables = makeTables(V, C, null, 21);
  const opt = new AdamW([{ param: tables[0], weightDecay: 0 }], { lr: 1e-3 });
  try {
    const ids = makeIds(64, V, 20, 22, pad);
    const g = step(tables, ids, C, pad, 23);
    const ref = embeddingBackwardRef(ids, g, V, C, pad);
    // Another rank's row: row 5 is not touched here (ids avoid it), as an all-reduce would write it.
    const other = new Set(ids).has(5) ? 6 : 5;
    assert(!new Set(ids).has(other));
    const host = Float32Array.from(ref);
    host.fill(0.5, other * C, other * C + C);
    gpu().write(tables[0].grad!.buffer, host);
    markRowSparseGradDense(tables[0].grad!);
    const n = await norms(tables);
    assert(
      n.labels.some((k) => k.startsWith("adamw.sumsq_partial4")),
      `dense sum after the write: ${n.labels}`,
    );
    assert(relDiff(n.sparse, norm64(host)) <= NORM_RTOL, `${n.sparse} vs ${norm64(host)}`);
    opt.zeroGrad();
    const ids2 = makeIds(50, V, 15, 24, pad).map((v) => v === other ? pad : v);
    const g2 = step(tables, ids2, C, pad, 25);
    assertClose(await joinedGrad(tables), embeddingBackwardRef(ids2, g2, V, C, pad), BWD, "cleared whole");
    const n2 = await norms(tables);
    assert(n2.labels.includes("adamw.sumsq_rows4"), `sparse again: ${n2.labels}`);
    opt.zeroGrad();
  } finally {
    opt.dispose();
    tables.forEach((t) => t.dispose());
  }
});

Deno.test("row-sparse gradient: a gradient the caller keeps (not released) is never modified", async () => {
  const V = 300, C = 8, pad = 1;
  const tables = makeTables(V, C, null, 31);
  try {
    const ids = makeIds(40, V, 10, 32, pad);
    const g = step(tables, ids, C, pad, 33);
    const kept = tables[0].grad!;
    tables[0].grad = null; // dropped without AdamW.zeroGrad: the next pass gets a fresh buffer
    const ids2 = makeIds(40, V, 10, 34, pad);
    const g2 = step(tables, ids2, C, pad, 35);
    assert(tables[0].grad !== kept, "a fresh buffer");
    const [a, b] = await readAll([kept, tables[0].grad!]);
    assertClose(a, embeddingBackwardRef(ids, g, V, C, pad), BWD, "kept gradient unchanged");
    assertClose(b, embeddingBackwardRef(ids2, g2, V, C, pad), BWD, "fresh gradient");
    kept.dispose();
    tables[0].grad!.dispose(); // disposed by the caller: the next pass allocates again
    tables[0].grad = null;
    const g3 = step(tables, ids, C, pad, 36);
    assertClose(await joinedGrad(tables), embeddingBackwardRef(ids, g3, V, C, pad), BWD, "after dispose");
    tables[0].grad!.dispose();
    tables[0].grad = null;
  } finally {
    tables.forEach((t) => t.dispose());
  }
});

/** Three AdamW steps of a tiny BERT (eval mode: no dropout) with clipping; per-step norms and the params. */
async function bertSteps(sparse: boolean) {
  setRowSparseGrads(sparse);
  try {
    const V = 1013, B = 3, T = 11;
    const config = makeBertConfig({
      vocab_size: V,
      hidden_size: 36,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 52,
      max_position_embeddings: 32,
      labels: ["O", "B", "I"],
    });
    const model = BertForTokenClassification.random(config, 5).eval();
    const params = model.namedParameters();
    const word = params.find(([k]) => k.endsWith("word_embeddings.weight"))![1];
    const opt = new AdamW(params.map(([, param]) => ({ param, weightDecay: 0.01 })), { lr: 1e-2 });
    const normsOut: number[] = [], labelsOut: string[][] = [];
    let lastGrad: Float32Array | null = null;
    for (let s = 0; s < 3; s++) {
      const inputIds = makeIds(B * T, V, 12, 40 + s, config.pad_token_id ?? 0);
      const labels = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + s) % 3);
      const { labels: trace } = await traceDispatches(async () => {
        tidy(() => backward(model.forward({ batch: B, seqLen: T, inputIds, labels }).loss!));
        if (s === 2) lastGrad = (await word.grad!.readF32()).slice();
        await noGrad(() =>
          tidy(async () => {
            const { norm, scale } = clipGradNorm(params.map(([, p]) => p), 0.5);
            opt.step(undefined, scale);
            normsOut.push((await norm.read())[0]);
          })
        );
        opt.zeroGrad();
      });
      labelsOut.push(trace);
    }
    const final = await readAll(params.map(([, p]) => p));
    opt.dispose();
    model.dispose();
    return { norms: normsOut, labels: labelsOut, final, lastGrad: lastGrad! };
  } finally {
    setRowSparseGrads(true);
  }
}

Deno.test("row-sparse gradient: a tiny BERT's steps equal the dense path (row kernels ran for the word embeddings)", async () => {
  const dense = await bertSteps(false), sparse = await bertSteps(true);
  for (const l of sparse.labels) {
    for (const k of ["embedding.select_rows", "embedding.clear_rows4", "adamw.sumsq_rows4"]) {
      assert(l.includes(k), `${k} ran in a sparse step`);
    }
  }
  const rowKernels = /^(embedding\.(claim|select|clear)_rows|adamw\.sumsq_rows)/;
  for (const l of dense.labels) {
    assert(!l.some((k) => rowKernels.test(k)), "the dense path ran no row kernel");
  }
  // Position and token-type tables are not row-sparse: one row list per step (the word embeddings).
  assertEquals(sparse.labels[0].filter((k) => k === "embedding.select_rows").length, 1);
  sparse.norms.forEach((n, s) => {
    const d = relDiff(n, dense.norms[s]);
    console.log(`step ${s + 1}: grad norm sparse ${n} dense ${dense.norms[s]} relative difference ${d}`);
    assert(d <= NORM_RTOL, `step ${s + 1}: norm ${n} vs dense ${dense.norms[s]}`);
  });
  assertClose(sparse.lastGrad, dense.lastGrad, { atol: 1e-6, rtol: 1e-5 }, "word-embedding gradient, step 3");
  sparse.final.forEach((p, i) =>
    assertClose(p, dense.final[i], { atol: 1e-6, rtol: 1e-5 }, `parameter ${i}`)
  );
});
