/**
 * The embedding lookup over a table stored as row chunks (a word-embedding table larger than one storage
 * binding): forward and per-chunk gradients equal the whole table's (CPU reference of the concatenated
 * table), padding_idx in any chunk, out-of-range ids, finite differences, and the chunk kernels ran.
 */
import { embedding } from "../../src/ops/embedding.ts";
import { backward } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { assertClose, dot, f64, finiteDiff, randn, rng, setupGpu } from "../_util.ts";
import { embeddingBackwardRef, embeddingRef } from "../ref/embedding.ts";

await setupGpu();

const EXACT = { atol: 0, rtol: 0 };
const BWD = { atol: 1e-5, rtol: 1e-5 };

/** Runs the chunked lookup (rows split as `rows`) forward and backward; returns output, gradients, trace. */
async function runChunks(ids: Int32Array, w: Float32Array, rows: number[], C: number, pad: number | null) {
  const g = randn(ids.length * C, 7);
  const { result, labels } = await traceDispatches(() =>
    tidy(async () => {
      let r0 = 0;
      const chunks = rows.map((r) => {
        const t = Tensor.from(w.slice(r0 * C, (r0 + r) * C), [r, C], "f32", `chunk${r0}`);
        t.requiresGrad = true;
        r0 += r;
        return t;
      });
      const y = embedding(Tensor.from(ids, [ids.length], "i32"), chunks, pad);
      backward(y, Tensor.from(g, [ids.length, C]));
      const [yy, ...dws] = await readAll([y, ...chunks.map((t) => t.grad!)]);
      for (const t of chunks) t.grad!.dispose();
      const dw = new Float32Array(w.length);
      let o = 0;
      for (const d of dws) dw.set(d as Float32Array, o), o += d.length;
      return { y: yy as Float32Array, dw };
    })
  );
  return { ...result, g, labels };
}

function makeIds(n: number, V: number, seed: number, extra: number[]): Int32Array {
  const u = rng(seed);
  const ids = Int32Array.from({ length: n }, () => Math.floor(u() * V));
  extra.forEach((v, k) => ids[(k * 131) % n] = v);
  return ids;
}

Deno.test("embedding chunks: uneven chunks, vec4 and scalar columns, pad in a later chunk = whole-table reference", async () => {
  for (
    const [rows, C, pad] of [[[70, 130, 301], 36, 250], [[5, 1, 44, 3], 13, 3], [
      [1000, 999],
      768,
      0,
    ]] as const
  ) {
    const V = rows.reduce((a, b) => a + b, 0);
    const ids = makeIds(333, V, V + C, [0, V - 1, 69, 70, 199, 200, pad, pad, -1, V]);
    const w = randn(V * C, C);
    const { y, dw, g, labels } = await runChunks(ids, w, [...rows], C, pad);
    const what = `rows [${rows}] × ${C} pad ${pad}`;
    assertClose(y, embeddingRef(ids, w, V, C), EXACT, `forward ${what}`);
    assertClose(dw, embeddingBackwardRef(ids, g, V, C, pad), BWD, `backward ${what}`);
    // the chunk kernels ran, once per chunk each way, and the whole-table kernels did not
    const count = (l: string) => labels.filter((x) => x === l).length;
    if (
      count("embedding.forward_chunk") !== rows.length || count("embedding.backward_chunk") !== rows.length
    ) {
      throw new Error(`${what}: unexpected kernels ${labels.join(", ")}`);
    }
    if (labels.includes("embedding.forward") || labels.includes("embedding.backward")) {
      throw new Error(`${what}: whole-table kernel ran: ${labels.join(", ")}`);
    }
  }
});

Deno.test("embedding chunks: bit-identical to the single table, gradients included", async () => {
  const V = 517, C = 24, pad = 1;
  const ids = makeIds(200, V, 3, [1, 516, 0, 128]);
  const w = randn(V * C, 11);
  const chunked = await runChunks(ids, w, [128, 128, 128, 133], C, pad);
  const whole = await runChunks(ids, w, [V], C, pad); // one chunk: the chunk path over the whole table
  const single = await tidy(async () => {
    const t = Tensor.from(w, [V, C], "f32", "table");
    t.requiresGrad = true;
    const { result, labels } = await traceDispatches(() => {
      const y = embedding(Tensor.from(ids, [ids.length], "i32"), t, pad);
      backward(y, Tensor.from(chunked.g, [ids.length, C]));
      return readAll([y, t.grad!]);
    });
    t.grad!.dispose();
    if (!labels.includes("embedding.forward") || labels.includes("embedding.forward_chunk")) {
      throw new Error(`single table ran ${labels.join(", ")}`);
    }
    return result;
  });
  assertClose(chunked.y, single[0] as Float32Array, EXACT, "forward");
  assertClose(chunked.dw, single[1] as Float32Array, EXACT, "gradient");
  assertClose(whole.y, single[0] as Float32Array, EXACT, "forward, one chunk");
});

Deno.test("embedding chunks: backward equals central finite differences", async () => {
  const rows = [4, 3, 5], V = 12, C = 5, pad = 5;
  const ids = Int32Array.from([5, 0, 3, 4, 4, 11, 7, 5, 2, 8, 8, 6]);
  const w = randn(V * C, 21);
  const { dw, g } = await runChunks(ids, w, rows, C, pad);
  const fd = finiteDiff(([ww]) => dot(embeddingRef(ids, ww, V, C), g), [f64(w)], 0);
  for (let c = 0; c < C; c++) {
    if (dw[pad * C + c] !== 0) throw new Error("padding row got a gradient");
    fd[pad * C + c] = 0; // nn.Embedding(padding_idx): no gradient by definition
  }
  assertClose(dw, fd, { atol: 1e-5, rtol: 1e-5 }, "chunk gradients vs FD");
});

Deno.test("embedding chunks: mismatched column counts and padding beyond the table are refused", () => {
  tidy(() => {
    const ids = Tensor.from(Int32Array.from([0]), [1], "i32");
    const a = Tensor.from(new Float32Array(8), [2, 4]), b = Tensor.from(new Float32Array(6), [2, 3]);
    let msg = "";
    try {
      embedding(ids, [a, b]);
    } catch (e) {
      msg = (e as Error).message;
    }
    if (!msg.includes("2-D f32 table")) throw new Error(`unclear: ${msg}`);
    msg = "";
    try {
      embedding(ids, [a, a], 4);
    } catch (e) {
      msg = (e as Error).message;
    }
    if (!msg.includes("out of range for 4 rows")) throw new Error(`unclear: ${msg}`);
  });
});
