/**
 * The lazy-row AdamW (src/ops/adamw_lazy.ts): a table with a row-sparse gradient is updated on its touched
 * rows only and the other rows replay their zero-gradient steps later; parameters and both moments must
 * equal the dense AdamW bit for bit (lavapipe), and so must every lookup in between (rows brought current
 * before they are read) — over steps with a changing learning rate, weight decay, a clipping scale, rows
 * untouched for many steps, the padding row, row chunks, and a step count reset. The dispatch trace proves
 * which path ran.
 */
import { assert, assertEquals } from "../_assert.ts";
import { embedding } from "../../src/ops/embedding.ts";
import { AdamW, clipGradNorm } from "../../src/ops/adamw.ts";
import { lazyAdamWEnabled, setLazyAdamW, setLazyReplayLimit } from "../../src/ops/adamw_lazy.ts";
import { backward, noGrad } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { setStagedLoads, stagedLoadsActive } from "../../src/engine/staged_loads.ts";
import { BertForTokenClassification } from "../../src/model/bert.ts";
import { makeBertConfig } from "../../src/model/config.ts";
import { randn, rng, setupGpu } from "../_util.ts";

await setupGpu();

interface Run {
  /** The lookups' outputs, step by step. */
  lookups: Float32Array[];
  /** Parameters, first moments, second moments at the end (per chunk). */
  params: Float32Array[];
  m: Float32Array[];
  v: Float32Array[];
  /** Dispatch labels of every step (lookup, backward, clipping, AdamW). */
  labels: string[][];
  /** The labels of the staged dispatches of every step (staged_loads.ts). */
  staged: string[][];
}

/** `n` ids over V rows: most from a small pool (hot rows), a few anywhere, the padding id, and V − 1. */
function idsOf(n: number, V: number, seed: number, pad: number): Int32Array {
  const u = rng(seed);
  const pool = Array.from({ length: 12 }, () => Math.floor(u() * V));
  const ids = Int32Array.from(
    { length: n },
    () => u() < 0.8 ? pool[Math.floor(u() * 12)] : Math.floor(u() * V),
  );
  ids[n >> 1] = pad;
  if (seed % 3 === 0) ids[0] = V - 1;
  return ids;
}

async function train(
  lazy: boolean,
  V: number,
  C: number,
  chunks: number[] | null,
  steps: number,
  reset: number | null = null,
): Promise<Run> {
  setLazyAdamW(lazy);
  const pad = 5;
  const w = randn(V * C, 11);
  let r0 = 0;
  const tables = (chunks ?? [V]).map((rows) => {
    const t = Tensor.from(w.slice(r0 * C, (r0 + rows) * C), [rows, C], "f32", `table${r0}`).keep();
    t.requiresGrad = true;
    r0 += rows;
    return t;
  });
  const opt = new AdamW(tables.map((param) => ({ param, weightDecay: 0.01 })), { lr: 1e-2 });
  const run: Run = { lookups: [], params: [], m: [], v: [], labels: [], staged: [] };
  try {
    for (let s = 0; s < steps; s++) {
      if (s === reset) opt.setSteps(1); // as a checkpoint restore does
      const ids = idsOf(97, V, 100 + s, pad);
      const g = randn(ids.length * C, 200 + s);
      const { result: y, labels, staged } = await traceDispatches(async () => {
        const y = tidy(() => {
          const out = embedding(Tensor.from(ids, [ids.length], "i32"), chunks ? tables : tables[0], pad);
          backward(out, Tensor.from(g, [ids.length, C]));
          return out.keep();
        });
        await noGrad(() =>
          tidy(() => {
            // a clipping scale below 1 on odd steps; the learning rate changes every step (a schedule)
            const scale = s % 2 ? clipGradNorm(tables, 0.5).scale : null;
            opt.step(1e-2 * (1 - s / (2 * steps)), scale);
          })
        );
        opt.zeroGrad();
        return y;
      });
      run.lookups.push((await y.readF32()).slice());
      y.dispose();
      run.labels.push(labels);
      run.staged.push(staged);
    }
    for (const t of tables) {
      const { m, v } = opt.moments(t);
      const [p, mm, vv] = await readAll([t, m, v]);
      run.params.push(p as Float32Array);
      run.m.push(mm as Float32Array);
      run.v.push(vv as Float32Array);
    }
    return run;
  } finally {
    opt.dispose();
    tables.forEach((t) => t.dispose());
    setLazyAdamW(true);
  }
}

function assertSame(lazy: Run, dense: Run, what: string): void {
  lazy.lookups.forEach((y, s) => assertEquals(y, dense.lookups[s], `${what}: lookup of step ${s + 1}`));
  for (const k of ["params", "m", "v"] as const) {
    lazy[k].forEach((a, i) => assertEquals(a, dense[k][i], `${what}: ${k} of chunk ${i}`));
  }
}

Deno.test("lazy AdamW: 9 steps of a 1013×36 table equal dense AdamW bitwise (lookups, weights, moments)", async () => {
  assert(lazyAdamWEnabled(), "on by default");
  const lazy = await train(true, 1013, 36, null, 9), dense = await train(false, 1013, 36, null, 9);
  assertSame(lazy, dense, "lazy vs dense");
  for (const l of lazy.labels) {
    assert(l.includes("adamw.lazy_rows4"), `the touched rows ran lazily: ${l}`);
    assert(!l.some((k) => k.startsWith("adamw.adamw_step4")), `no dense update of the table: ${l}`);
  }
  // From step 2 on, the lookup first replays the waiting rows among its ids.
  for (const l of lazy.labels.slice(1)) assert(l.includes("adamw.lazy_select"), `lookup catch-up: ${l}`);
  for (const l of dense.labels) {
    assert(
      l.some((k) => k.startsWith("adamw.adamw_step4")) && !l.some((k) => k.startsWith("adamw.lazy")),
      `dense: ${l}`,
    );
  }
  // On lavapipe the replay reads the step constants from a staged texture; the buffer form is bitwise the same.
  for (const l of lazy.staged) {
    assertEquals(l.includes("adamw.lazy_rows4+staged"), stagedLoadsActive(), l.join());
  }
  setStagedLoads("off");
  try {
    const unstaged = await train(true, 1013, 36, null, 9);
    assertSame(unstaged, dense, "lazy from buffers vs dense");
    for (const l of unstaged.staged) assertEquals(l, [], "nothing staged");
  } finally {
    setStagedLoads("auto");
  }
  // Rows untouched for the whole run still moved (weight decay and the moments' decay): replayed at read.
  const initial = randn(1013 * 36, 11);
  assert(lazy.params[0].some((x, i) => x !== initial[i]), "weights moved");
});

Deno.test("lazy AdamW: row chunks with the padding row, and a step-count reset, equal dense AdamW bitwise", async () => {
  const lazy = await train(true, 700, 8, [300, 400], 6, 3),
    dense = await train(false, 700, 8, [300, 400], 6, 3);
  assertSame(lazy, dense, "chunks + reset");
  assert(lazy.labels.every((l) => l.filter((k) => k === "adamw.lazy_rows4").length >= 2), "both chunks lazy");
});

Deno.test("lazy AdamW: rows never wait longer than the replay limit (lavapipe's loop cap), still bitwise equal", async () => {
  setLazyReplayLimit(3);
  try {
    const lazy = await train(true, 1013, 36, null, 9), dense = await train(false, 1013, 36, null, 9);
    assertSame(lazy, dense, "limit 3");
    // Steps 4 and 7 first bring every row current (a lazy_rows4 over all rows before the step's own).
    const rows4 = lazy.labels.map((l) => l.filter((k) => k === "adamw.lazy_rows4").length);
    const plain = rows4[1];
    assertEquals(rows4[3], plain + 1, `step 4 flushed: ${rows4}`);
    assertEquals(rows4[6], plain + 1, `step 7 flushed: ${rows4}`);
    assertEquals(rows4[4], plain, `step 5 did not: ${rows4}`);
  } finally {
    setLazyReplayLimit(60000);
  }
});

Deno.test("lazy AdamW: a table whose columns are not a multiple of 4 takes the dense update", async () => {
  const lazy = await train(true, 101, 6, null, 2), dense = await train(false, 101, 6, null, 2);
  assertSame(lazy, dense, "C = 6");
  for (const l of lazy.labels) assert(!l.some((k) => k.startsWith("adamw.lazy")), `dense path: ${l}`);
});

/** Four clipped AdamW steps of a tiny BERT (eval mode), then every parameter and moment. */
async function bert(lazy: boolean): Promise<{ values: Float32Array[]; labels: string[] }> {
  setLazyAdamW(lazy);
  const V = 1013, B = 2, T = 9;
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
  const params = model.namedParameters().map(([, p]) => p);
  const opt = new AdamW(params.map((param) => ({ param, weightDecay: 0.01 })), { lr: 1e-2 });
  try {
    const labelsOut: string[] = [];
    for (let s = 0; s < 4; s++) {
      const inputIds = idsOf(B * T, V, 300 + s, config.pad_token_id ?? 0);
      const labels = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + s) % 3);
      const { labels: trace } = await traceDispatches(async () => {
        tidy(() => backward(model.forward({ batch: B, seqLen: T, inputIds, labels }).loss!));
        await noGrad(() => tidy(() => opt.step(undefined, clipGradNorm(params, 0.5).scale)));
        opt.zeroGrad();
      });
      labelsOut.push(...trace);
    }
    const moments = params.flatMap((p) => Object.values(opt.moments(p)));
    const values = (await readAll([...params, ...moments])) as Float32Array[];
    return { values, labels: labelsOut };
  } finally {
    opt.dispose();
    model.dispose();
    setLazyAdamW(true);
  }
}

Deno.test("lazy AdamW: a tiny BERT's 4 steps equal dense AdamW bitwise (every parameter and moment)", async () => {
  const lazy = await bert(true), dense = await bert(false);
  assert(lazy.labels.includes("adamw.lazy_rows4") && !dense.labels.includes("adamw.lazy_rows4"), "paths");
  lazy.values.forEach((x, i) => assertEquals(x, dense.values[i], `tensor ${i}`));
});
