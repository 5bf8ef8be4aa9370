// Fused multi-head self-attention, HF BertSelfAttention (eager) semantics:
//   S = Q·Kᵀ / sqrt(D) + (1 − mask)·f32_min,  P = softmax_rows(S),  O = dropout(P)·V
// with its backward (dQ, dK, dV), flash-style: the probabilities are never stored; the forward saves the
// per-row max and sum (m, l) and the backward recomputes P = exp(S − m) / l and regenerates the dropout
// mask from the counter RNG (prepended: rng_uniform).
//
// Layout: q, k, v, out and their gradients are (B, T, H·D4) arrays of vec4 — exactly the (B, T, H·D)
// activations of BERT's query/key/value Linear layers when D is a multiple of 4 (heads are contiguous
// D-slices of a row, read with strides; nothing is permuted); D4 = D/4. For other D the host pads each
// head to a multiple of 4 with zeros (pad_heads/unpad_heads) — zeros add nothing to the dot products.
// `rs` is the row stride in vec4s (H·D4). mask is f32 (B, T) of 1 (attend) / 0 (masked key), unused when
// has_mask = 0. stats is (B, H, T) of vec4 (m, l, Δ, 0): m the row max of S, l the sum of exp(S − m)
// (the softmax normaliser), Δ = rowsum(dO ⊙ O) written by attn_bwd_dq.
//
// Two sets of kernels:
// - generic (attn_fwd, attn_bwd_dq, attn_bwd_dkv): any D ≤ 128 (D4 a runtime value), one invocation per
//   query row (forward, dQ) or key row (dK, dV), WG rows of one (batch, head) = wid.y per workgroup; the
//   other operand is read from the storage buffers in tiles of KT keys (queries). Rows past T compute on
//   row T−1 and store nothing.
// - D = 64 (attn_fwd64, attn_bwd_dq64, attn_bwd_dkv64, below): 4 rows per invocation held in registers,
//   the streamed operand read from staging textures. About 5× faster on CPU adapters.
//
// Dropout: probability (b, h, i, j) is kept iff rng_uniform(seed, ((b·H + h)·T + i)·T + j) >= p_drop and
// then scaled by keep_scale = 1/(1 − p_drop); use_dropout = 0 skips it.
//
// Contract: every entry point OVERWRITES its outputs (attn_bwd_dq writes only the Δ lane of stats;
// attn_bwd_dq64 writes (m, l, Δ) to the statistics texture and leaves the stats buffer alone).
//
// UNIFORMS: each entry point reads its parameters as `p_u[wid.z]` (always element 0: the grid has one
// layer in z) instead of a plain `var<uniform> p: Params`. Lavapipe inlines uniform values that feed
// branch conditions or loop bounds when they are loaded at constant offsets and recompiles the shader for
// every new set of values (seconds for these kernels at each new T); a dynamic index keeps one compiled
// shader for all shapes.

const F32_MIN: f32 = -3.4028234663852886e38;
const MAX_D4: u32 = 32u; // head size up to 128
const KT: u32 = 32u;     // keys (queries) per register tile
override WG: u32 = 64u;  // rows per workgroup

struct Params {
  t: u32,            // sequence length T
  h: u32,            // heads H
  rs: u32,           // row stride of q, k, v, out in vec4s: H·D4
  has_mask: u32,     // 1: apply the key mask
  sqrt_d: f32,       // sqrt(D) of the real head size: scores are divided by it (as HF)
  use_dropout: u32,  // 1: apply dropout to the probabilities
  p_drop: f32,       // dropout probability
  keep_scale: f32,   // 1 / (1 − p_drop) (0 when p_drop = 1)
  seed: u32,         // dropout stream
  b0: u32,           // first batch of this chunk (fast path; 0 for the generic kernels)
  d4: u32,           // head size in vec4s: D rounded up to a multiple of 4, divided by 4
  pad: u32,          // (struct size 48: a multiple of 16, as uniform array elements need)
}

// Dropout multiplier of probability number `idx`: keep_scale or 0.
fn drop_factor(seed: u32, idx: u32, p_drop: f32, keep_scale: f32) -> f32 {
  return select(0.0, keep_scale, rng_uniform(seed, idx) >= p_drop);
}

// ---- attn_fwd ---------------------------------------------------------------------------------------------
@group(0) @binding(0) var<storage, read> fq: array<vec4f>;             // (B, T, H·D4) queries
@group(0) @binding(1) var<storage, read> fk: array<vec4f>;             // (B, T, H·D4) keys
@group(0) @binding(2) var<storage, read> fv: array<vec4f>;             // (B, T, H·D4) values
@group(0) @binding(3) var<storage, read> fmask: array<f32>;            // (B, T) key mask
@group(0) @binding(4) var<storage, read_write> fout: array<vec4f>;     // (B, T, H·D4) merged heads
@group(0) @binding(5) var<storage, read_write> fstats: array<vec4f>;   // (B, H, T) (m, l, 0, 0)
@group(0) @binding(6) var<uniform> pf_u: array<Params, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(WG)
fn attn_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pf = pf_u[wid.z];
  let t = pf.t;
  let bh = wid.y;
  let b = bh / pf.h;
  let head = (bh - b * pf.h) * pf.d4;
  let row = wid.x * WG + lid.x;
  let i = min(row, t - 1u);
  let seq0 = b * t;                       // first row of this batch
  let qrow = (seq0 + i) * pf.rs + head;
  var q: array<vec4f, MAX_D4>;
  var o: array<vec4f, MAX_D4>;
  for (var c = 0u; c < pf.d4; c++) {
    q[c] = fq[qrow + c];
    o[c] = vec4f(0.0);
  }
  var m = F32_MIN;
  var l = 0.0;
  var s: array<f32, KT>;
  let rng_row = (bh * t + i) * t;
  for (var j0 = 0u; j0 < t; j0 += KT) {
    let nk = min(KT, t - j0);
    // Scores of this tile and the new running max.
    var tmax = m;
    for (var jj = 0u; jj < nk; jj++) {
      let krow = (seq0 + j0 + jj) * pf.rs + head;
      var acc = vec4f(0.0);
      for (var c = 0u; c < pf.d4; c++) { acc = fma(q[c], fk[krow + c], acc); }
      var sc = ((acc.x + acc.y) + (acc.z + acc.w)) / pf.sqrt_d;
      if (pf.has_mask != 0u) { sc += (1.0 - fmask[seq0 + j0 + jj]) * F32_MIN; }
      s[jj] = sc;
      tmax = max(tmax, sc);
    }
    let corr = exp(m - tmax);
    m = tmax;
    l *= corr;
    for (var jj = 0u; jj < nk; jj++) {
      var e = exp(s[jj] - m);
      l += e;
      if (pf.use_dropout != 0u) {
        e *= drop_factor(pf.seed, rng_row + j0 + jj, pf.p_drop, pf.keep_scale);
      }
      s[jj] = e;
    }
    for (var c = 0u; c < pf.d4; c++) {
      var acc = o[c] * corr;
      for (var jj = 0u; jj < nk; jj++) { acc = fma(vec4f(s[jj]), fv[(seq0 + j0 + jj) * pf.rs + head + c], acc); }
      o[c] = acc;
    }
  }
  if (row < t) {
    for (var c = 0u; c < pf.d4; c++) { fout[qrow + c] = o[c] / l; }
    fstats[bh * t + i] = vec4f(m, l, 0.0, 0.0);
  }
}

// ---- attn_bwd_dq: dQ and Δ = rowsum(dO ⊙ O) -----------------------------------------------------------------
// dS_ij = P_ij · (Z_ij · dO_i·v_j − Δ_i) with Z the dropout multipliers; dQ_i = Σ_j dS_ij k_j / sqrt(D).
@group(0) @binding(0) var<storage, read> qq: array<vec4f>;             // (B, T, H·D4) queries
@group(0) @binding(1) var<storage, read> qk: array<vec4f>;             // (B, T, H·D4) keys
@group(0) @binding(2) var<storage, read> qv: array<vec4f>;             // (B, T, H·D4) values
@group(0) @binding(3) var<storage, read> qmask: array<f32>;            // (B, T) key mask
@group(0) @binding(4) var<storage, read> qdout: array<vec4f>;          // (B, T, H·D4) dL/dO
@group(0) @binding(5) var<storage, read> qout: array<vec4f>;           // (B, T, H·D4) O (forward output)
@group(0) @binding(6) var<storage, read_write> qdq: array<vec4f>;      // (B, T, H·D4) dL/dQ
@group(0) @binding(7) var<storage, read_write> qstats: array<vec4f>;   // (B, H, T) reads m, l; writes Δ
@group(0) @binding(8) var<uniform> pq_u: array<Params, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(WG)
fn attn_bwd_dq(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pq = pq_u[wid.z];
  let t = pq.t;
  let bh = wid.y;
  let b = bh / pq.h;
  let head = (bh - b * pq.h) * pq.d4;
  let row = wid.x * WG + lid.x;
  let i = min(row, t - 1u);
  let seq0 = b * t;
  let qrow = (seq0 + i) * pq.rs + head;
  var q: array<vec4f, MAX_D4>;
  var g: array<vec4f, MAX_D4>;
  var dq: array<vec4f, MAX_D4>;
  var dacc = vec4f(0.0);
  for (var c = 0u; c < pq.d4; c++) {
    q[c] = qq[qrow + c];
    g[c] = qdout[qrow + c];
    dq[c] = vec4f(0.0);
    dacc = fma(g[c], qout[qrow + c], dacc);
  }
  let delta = (dacc.x + dacc.y) + (dacc.z + dacc.w);
  let st = qstats[bh * t + i];
  let m = st.x;
  let l = st.y;
  var ds: array<f32, KT>;
  let rng_row = (bh * t + i) * t;
  for (var j0 = 0u; j0 < t; j0 += KT) {
    let nk = min(KT, t - j0);
    for (var jj = 0u; jj < nk; jj++) {
      let krow = (seq0 + j0 + jj) * pq.rs + head;
      var sacc = vec4f(0.0);
      var pacc = vec4f(0.0);
      for (var c = 0u; c < pq.d4; c++) {
        sacc = fma(q[c], qk[krow + c], sacc);
        pacc = fma(g[c], qv[krow + c], pacc);
      }
      var sc = ((sacc.x + sacc.y) + (sacc.z + sacc.w)) / pq.sqrt_d;
      if (pq.has_mask != 0u) { sc += (1.0 - qmask[seq0 + j0 + jj]) * F32_MIN; }
      let p = exp(sc - m) / l;
      var dp = (pacc.x + pacc.y) + (pacc.z + pacc.w);
      if (pq.use_dropout != 0u) { dp *= drop_factor(pq.seed, rng_row + j0 + jj, pq.p_drop, pq.keep_scale); }
      ds[jj] = p * (dp - delta) / pq.sqrt_d;
    }
    for (var c = 0u; c < pq.d4; c++) {
      var acc = dq[c];
      for (var jj = 0u; jj < nk; jj++) { acc = fma(vec4f(ds[jj]), qk[(seq0 + j0 + jj) * pq.rs + head + c], acc); }
      dq[c] = acc;
    }
  }
  if (row < t) {
    for (var c = 0u; c < pq.d4; c++) { qdq[qrow + c] = dq[c]; }
    qstats[bh * t + i] = vec4f(m, l, delta, 0.0);
  }
}

// ---- attn_bwd_dkv: dK and dV, one invocation per key row j --------------------------------------------------
// dV_j = Σ_i P_ij Z_ij dO_i;  dK_j = Σ_i dS_ij q_i / sqrt(D). Needs Δ from attn_bwd_dq.
@group(0) @binding(0) var<storage, read> kq: array<vec4f>;             // (B, T, H·D4) queries
@group(0) @binding(1) var<storage, read> kk: array<vec4f>;             // (B, T, H·D4) keys
@group(0) @binding(2) var<storage, read> kv: array<vec4f>;             // (B, T, H·D4) values
@group(0) @binding(3) var<storage, read> kmask: array<f32>;            // (B, T) key mask
@group(0) @binding(4) var<storage, read> kdout: array<vec4f>;          // (B, T, H·D4) dL/dO
@group(0) @binding(5) var<storage, read> kstats: array<vec4f>;         // (B, H, T) (m, l, Δ, 0)
@group(0) @binding(6) var<storage, read_write> kdk: array<vec4f>;      // (B, T, H·D4) dL/dK
@group(0) @binding(7) var<storage, read_write> kdv: array<vec4f>;      // (B, T, H·D4) dL/dV
@group(0) @binding(8) var<uniform> pk_u: array<Params, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(WG)
fn attn_bwd_dkv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pk = pk_u[wid.z];
  let t = pk.t;
  let bh = wid.y;
  let b = bh / pk.h;
  let head = (bh - b * pk.h) * pk.d4;
  let row = wid.x * WG + lid.x;
  let j = min(row, t - 1u);
  let seq0 = b * t;
  let krow = (seq0 + j) * pk.rs + head;
  var k: array<vec4f, MAX_D4>;
  var v: array<vec4f, MAX_D4>;
  var dk: array<vec4f, MAX_D4>;
  var dv: array<vec4f, MAX_D4>;
  for (var c = 0u; c < pk.d4; c++) {
    k[c] = kk[krow + c];
    v[c] = kv[krow + c];
    dk[c] = vec4f(0.0);
    dv[c] = vec4f(0.0);
  }
  var bias = 0.0;
  if (pk.has_mask != 0u) { bias = (1.0 - kmask[seq0 + j]) * F32_MIN; }
  var pz: array<f32, KT>;
  var ds: array<f32, KT>;
  for (var i0 = 0u; i0 < t; i0 += KT) {
    let nq = min(KT, t - i0);
    for (var ii = 0u; ii < nq; ii++) {
      let i = i0 + ii;
      let qrow = (seq0 + i) * pk.rs + head;
      var sacc = vec4f(0.0);
      var pacc = vec4f(0.0);
      for (var c = 0u; c < pk.d4; c++) {
        sacc = fma(kq[qrow + c], k[c], sacc);
        pacc = fma(kdout[qrow + c], v[c], pacc);
      }
      let st = kstats[bh * t + i];
      let sc = ((sacc.x + sacc.y) + (sacc.z + sacc.w)) / pk.sqrt_d + bias;
      let p = exp(sc - st.x) / st.y;
      var z = 1.0;
      if (pk.use_dropout != 0u) { z = drop_factor(pk.seed, (bh * t + i) * t + j, pk.p_drop, pk.keep_scale); }
      let dp = ((pacc.x + pacc.y) + (pacc.z + pacc.w)) * z;
      pz[ii] = p * z;
      ds[ii] = p * (dp - st.z) / pk.sqrt_d;
    }
    for (var c = 0u; c < pk.d4; c++) {
      var ak = dk[c];
      var av = dv[c];
      for (var ii = 0u; ii < nq; ii++) {
        let qrow = (seq0 + i0 + ii) * pk.rs + head + c;
        ak = fma(vec4f(ds[ii]), kq[qrow], ak);
        av = fma(vec4f(pz[ii]), kdout[qrow], av);
      }
      dk[c] = ak;
      dv[c] = av;
    }
  }
  if (row < t) {
    for (var c = 0u; c < pk.d4; c++) {
      kdk[krow + c] = dk[c];
      kdv[krow + c] = dv[c];
    }
  }
}

// ---- pad_heads / unpad_heads: (N, H, D) <-> (N, H, DP) with DP = 4·D4 ≥ D, zero padding ----------------
struct PadParams {
  n: u32,   // elements of the output
  d: u32,   // real head size D
  dp: u32,  // padded head size DP
  pad: u32, // (size 16 for the uniform array)
}

@group(0) @binding(0) var<storage, read> pin: array<f32>;          // (N, H, D) or (N, H, DP)
@group(0) @binding(1) var<storage, read_write> pout: array<f32>;   // (N, H, DP) or (N, H, D)
@group(0) @binding(2) var<uniform> pp_u: array<PadParams, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(256)
fn pad_heads(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let pp = pp_u[wid.z];
  let e = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (e >= pp.n) { return; }
  let head = e / pp.dp;
  let d = e - head * pp.dp;
  pout[e] = select(0.0, pin[head * pp.d + min(d, pp.d - 1u)], d < pp.d);
}

@compute @workgroup_size(256)
fn unpad_heads(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid: vec3u) {
  let pp = pp_u[wid.z];
  let e = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (e >= pp.n) { return; }
  let head = e / pp.d;
  pout[e] = pin[head * pp.dp + (e - head * pp.d)];
}

// ==== fast path for D = 64 ===================================================================================
// One invocation owns 4 consecutive rows (queries in attn_fwd64 / attn_bwd_dq64, keys in attn_bwd_dkv64);
// a head row of 64 floats is a Row (four mat4x4f) held in registers, written out without loops or arrays
// so nothing lands in per-invocation scratch memory. The streamed operand (K and V; Q and dO) is read from
// rgba32float storage textures staged by the host: on CPU adapters a texture load costs about a third of
// a storage-buffer load. Texture texel (x, y) = (h·16 + c, (b − b0)·T + j) for batch b of the chunk that
// starts at b0 (the host splits B so that a chunk's rows fit a texture). Workgroup (x, y): rows
// [x·4·WG, (x+1)·4·WG) of (batch, head) y within the chunk. Per-row softmax statistics are vec4s over
// the invocation's 4 rows.

struct Row { a: mat4x4f, b: mat4x4f, c: mat4x4f, d: mat4x4f }

fn row_zero() -> Row {
  return Row(mat4x4f(), mat4x4f(), mat4x4f(), mat4x4f());
}

fn row_dot(x: Row, y: Row) -> f32 {
  var acc = x.a[0] * y.a[0];
  acc = fma(x.a[1], y.a[1], acc);
  acc = fma(x.a[2], y.a[2], acc);
  acc = fma(x.a[3], y.a[3], acc);
  acc = fma(x.b[0], y.b[0], acc);
  acc = fma(x.b[1], y.b[1], acc);
  acc = fma(x.b[2], y.b[2], acc);
  acc = fma(x.b[3], y.b[3], acc);
  acc = fma(x.c[0], y.c[0], acc);
  acc = fma(x.c[1], y.c[1], acc);
  acc = fma(x.c[2], y.c[2], acc);
  acc = fma(x.c[3], y.c[3], acc);
  acc = fma(x.d[0], y.d[0], acc);
  acc = fma(x.d[1], y.d[1], acc);
  acc = fma(x.d[2], y.d[2], acc);
  acc = fma(x.d[3], y.d[3], acc);
  return (acc.x + acc.y) + (acc.z + acc.w);
}

// Column k of the four dot products: (x0[k]·y[k], x1[k]·y[k], x2[k]·y[k], x3[k]·y[k]).
fn col_dots(x0: vec4f, x1: vec4f, x2: vec4f, x3: vec4f, y: vec4f) -> vec4f {
  return vec4f(dot(x0, y), dot(x1, y), dot(x2, y), dot(x3, y));
}

fn mat_dots(x0: mat4x4f, x1: mat4x4f, x2: mat4x4f, x3: mat4x4f, y: mat4x4f) -> vec4f {
  return (col_dots(x0[0], x1[0], x2[0], x3[0], y[0]) + col_dots(x0[1], x1[1], x2[1], x3[1], y[1])) +
         (col_dots(x0[2], x1[2], x2[2], x3[2], y[2]) + col_dots(x0[3], x1[3], x2[3], x3[3], y[3]));
}

// (x0·y, x1·y, x2·y, x3·y), column by column so each column of y is loaded once for the four rows.
fn dots4(x0: Row, x1: Row, x2: Row, x3: Row, y: Row) -> vec4f {
  return (mat_dots(x0.a, x1.a, x2.a, x3.a, y.a) + mat_dots(x0.b, x1.b, x2.b, x3.b, y.b)) +
         (mat_dots(x0.c, x1.c, x2.c, x3.c, y.c) + mat_dots(x0.d, x1.d, x2.d, x3.d, y.d));
}

fn mat_fma(s: f32, x: mat4x4f, y: mat4x4f) -> mat4x4f {
  let v = vec4f(s);
  return mat4x4f(fma(v, x[0], y[0]), fma(v, x[1], y[1]), fma(v, x[2], y[2]), fma(v, x[3], y[3]));
}

// s·x + y
fn row_fma(s: f32, x: Row, y: Row) -> Row {
  return Row(mat_fma(s, x.a, y.a), mat_fma(s, x.b, y.b), mat_fma(s, x.c, y.c), mat_fma(s, x.d, y.d));
}

fn row_scale(x: Row, s: f32) -> Row {
  return Row(x.a * s, x.b * s, x.c * s, x.d * s);
}

fn col_acc4(o: vec4f, s: f32, w: vec4f, a: vec4f, b: vec4f, c: vec4f, d: vec4f) -> vec4f {
  return fma(vec4f(w.w), d, fma(vec4f(w.z), c, fma(vec4f(w.y), b, fma(vec4f(w.x), a, o * s))));
}

fn mat_acc4(o: mat4x4f, s: f32, w: vec4f, a: mat4x4f, b: mat4x4f, c: mat4x4f, d: mat4x4f) -> mat4x4f {
  return mat4x4f(col_acc4(o[0], s, w, a[0], b[0], c[0], d[0]), col_acc4(o[1], s, w, a[1], b[1], c[1], d[1]),
                 col_acc4(o[2], s, w, a[2], b[2], c[2], d[2]), col_acc4(o[3], s, w, a[3], b[3], c[3], d[3]));
}

// o·s + w.x·a + w.y·b + w.z·c + w.w·d, column by column: each accumulator column is loaded and stored
// once for four rows of input.
fn row_acc4(o: Row, s: f32, w: vec4f, a: Row, b: Row, c: Row, d: Row) -> Row {
  return Row(mat_acc4(o.a, s, w, a.a, b.a, c.a, d.a), mat_acc4(o.b, s, w, a.b, b.b, c.b, d.b),
             mat_acc4(o.c, s, w, a.c, b.c, c.c, d.c), mat_acc4(o.d, s, w, a.d, b.d, c.d, d.d));
}

// The 16 texels (x .. x+15, y) of a staging texture: one head row. The loaders `<texture>_row(x, y)` for
// gk_tex, gv_tex, hk_tex, hv_tex, iq_tex and ig_tex are generated by src/ops/attention.ts: WebGPU's GL
// backend rejects storage textures as function parameters, so each texture gets its own loader.

// HF's additive mask bias of a key whose mask value is m: 0 for m = 1, f32_min for m = 0.
fn mask_bias(m: f32) -> f32 {
  return (1.0 - m) * F32_MIN;
}

// Dropout multipliers of the 4 rows i0..i0+3 (queries) against key j: (bh·T + i)·T + j.
fn drop4(seed: u32, first: u32, t: u32, p_drop: f32, keep_scale: f32) -> vec4f {
  return vec4f(drop_factor(seed, first, p_drop, keep_scale), drop_factor(seed, first + t, p_drop, keep_scale),
               drop_factor(seed, first + 2u * t, p_drop, keep_scale),
               drop_factor(seed, first + 3u * t, p_drop, keep_scale));
}

// Dropout multipliers of one query row against 4 consecutive keys: indices first .. first+3.
fn drop4k(seed: u32, first: u32, p_drop: f32, keep_scale: f32) -> vec4f {
  return vec4f(drop_factor(seed, first, p_drop, keep_scale), drop_factor(seed, first + 1u, p_drop, keep_scale),
               drop_factor(seed, first + 2u, p_drop, keep_scale), drop_factor(seed, first + 3u, p_drop, keep_scale));
}

// ---- attn_fwd64 ----------------------------------------------------------------------------------------------
@group(0) @binding(0) var<storage, read> gq: array<vec4f>;                // (B, T, H·16) queries
@group(0) @binding(1) var gk_tex: texture_storage_2d<rgba32float, read>;  // (H·16) × (Bc·T) keys of the chunk
@group(0) @binding(2) var gv_tex: texture_storage_2d<rgba32float, read>;  // (H·16) × (Bc·T) values
@group(0) @binding(3) var<storage, read> gmask: array<f32>;               // (B, T) key mask
@group(0) @binding(4) var<storage, read_write> gout: array<vec4f>;        // (B, T, H·16) merged heads
@group(0) @binding(5) var<storage, read_write> gstats: array<vec4f>;      // (B, H, T) (m, l, 0, 0)
@group(0) @binding(6) var<uniform> pg_u: array<Params, 2>; // element 0 (see UNIFORMS)

fn gq_row(o: u32) -> Row {
  return Row(mat4x4f(gq[o], gq[o + 1u], gq[o + 2u], gq[o + 3u]), mat4x4f(gq[o + 4u], gq[o + 5u], gq[o + 6u], gq[o + 7u]),
             mat4x4f(gq[o + 8u], gq[o + 9u], gq[o + 10u], gq[o + 11u]),
             mat4x4f(gq[o + 12u], gq[o + 13u], gq[o + 14u], gq[o + 15u]));
}

fn gout_store(o: u32, x: Row) {
  gout[o] = x.a[0]; gout[o + 1u] = x.a[1]; gout[o + 2u] = x.a[2]; gout[o + 3u] = x.a[3];
  gout[o + 4u] = x.b[0]; gout[o + 5u] = x.b[1]; gout[o + 6u] = x.b[2]; gout[o + 7u] = x.b[3];
  gout[o + 8u] = x.c[0]; gout[o + 9u] = x.c[1]; gout[o + 10u] = x.c[2]; gout[o + 11u] = x.c[3];
  gout[o + 12u] = x.d[0]; gout[o + 13u] = x.d[1]; gout[o + 14u] = x.d[2]; gout[o + 15u] = x.d[3];
}

// Scores of the 4 rows against key j (clamped into range by the caller).
fn fwd64_scores(q0: Row, q1: Row, q2: Row, q3: Row, k: Row, sqrt_d: f32, bias: f32) -> vec4f {
  return dots4(q0, q1, q2, q3, k) / sqrt_d + bias;
}

@compute @workgroup_size(WG)
fn attn_fwd64(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pg = pg_u[wid.z];
  let t = pg.t;
  let b = pg.b0 + wid.y / pg.h;
  let bh = b * pg.h + wid.y % pg.h;           // global (batch, head)
  let head = (wid.y % pg.h) * 16u;
  let seq0 = b * t;                           // first row of this batch in the buffers
  let tex0 = (b - pg.b0) * t;                 // ... and in the textures
  let r0 = (wid.x * WG + lid.x) * 4u;
  if (r0 >= t) { return; } // all 4 rows past T (short sequences): nothing to store, and no barriers
  let last = t - 1u;
  let q0 = gq_row((seq0 + min(r0, last)) * pg.rs + head);
  let q1 = gq_row((seq0 + min(r0 + 1u, last)) * pg.rs + head);
  let q2 = gq_row((seq0 + min(r0 + 2u, last)) * pg.rs + head);
  let q3 = gq_row((seq0 + min(r0 + 3u, last)) * pg.rs + head);
  var o0 = row_zero();
  var o1 = row_zero();
  var o2 = row_zero();
  var o3 = row_zero();
  var m = vec4f(F32_MIN);
  var l = vec4f(0.0);
  let rng0 = (bh * t + r0) * t; // dropout index of (r0, key 0); rows past T are computed but never stored
  for (var j0 = 0u; j0 < t; j0 += 4u) {
    // Four keys per step; keys past T are clamped for the loads and get probability 0.
    let ja = j0;
    let jb = min(j0 + 1u, last);
    let jc = min(j0 + 2u, last);
    let jd = min(j0 + 3u, last);
    var ba = 0.0;
    var bb = 0.0;
    var bc = 0.0;
    var bd = 0.0;
    if (pg.has_mask != 0u) {
      ba = mask_bias(gmask[seq0 + ja]);
      bb = mask_bias(gmask[seq0 + jb]);
      bc = mask_bias(gmask[seq0 + jc]);
      bd = mask_bias(gmask[seq0 + jd]);
    }
    let sa = fwd64_scores(q0, q1, q2, q3, gk_tex_row(head, tex0 + ja), pg.sqrt_d, ba);
    let sb = fwd64_scores(q0, q1, q2, q3, gk_tex_row(head, tex0 + jb), pg.sqrt_d, bb);
    let sc = fwd64_scores(q0, q1, q2, q3, gk_tex_row(head, tex0 + jc), pg.sqrt_d, bc);
    let sd = fwd64_scores(q0, q1, q2, q3, gk_tex_row(head, tex0 + jd), pg.sqrt_d, bd);
    let vb_ok = j0 + 1u < t;
    let vc_ok = j0 + 2u < t;
    let vd_ok = j0 + 3u < t;
    let low = vec4f(F32_MIN);
    let tmax = max(max(m, max(sa, select(low, sb, vb_ok))), max(select(low, sc, vc_ok), select(low, sd, vd_ok)));
    let corr = exp(m - tmax);
    m = tmax;
    var pa = exp(sa - tmax);
    var pb = select(vec4f(0.0), exp(sb - tmax), vb_ok);
    var pc = select(vec4f(0.0), exp(sc - tmax), vc_ok);
    var pd = select(vec4f(0.0), exp(sd - tmax), vd_ok);
    l = l * corr + ((pa + pb) + (pc + pd));
    if (pg.use_dropout != 0u) {
      let rj = rng0 + j0;
      pa *= drop4(pg.seed, rj, t, pg.p_drop, pg.keep_scale);
      pb *= drop4(pg.seed, rj + 1u, t, pg.p_drop, pg.keep_scale);
      pc *= drop4(pg.seed, rj + 2u, t, pg.p_drop, pg.keep_scale);
      pd *= drop4(pg.seed, rj + 3u, t, pg.p_drop, pg.keep_scale);
    }
    let va = gv_tex_row(head, tex0 + ja);
    let vb = gv_tex_row(head, tex0 + jb);
    let vc = gv_tex_row(head, tex0 + jc);
    let vd = gv_tex_row(head, tex0 + jd);
    o0 = row_acc4(o0, corr.x, vec4f(pa.x, pb.x, pc.x, pd.x), va, vb, vc, vd);
    o1 = row_acc4(o1, corr.y, vec4f(pa.y, pb.y, pc.y, pd.y), va, vb, vc, vd);
    o2 = row_acc4(o2, corr.z, vec4f(pa.z, pb.z, pc.z, pd.z), va, vb, vc, vd);
    o3 = row_acc4(o3, corr.w, vec4f(pa.w, pb.w, pc.w, pd.w), va, vb, vc, vd);
  }
  let st = (bh * t + r0);
  if (r0 < t) {
    gout_store((seq0 + r0) * pg.rs + head, row_scale(o0, 1.0 / l.x));
    gstats[st] = vec4f(m.x, l.x, 0.0, 0.0);
  }
  if (r0 + 1u < t) {
    gout_store((seq0 + r0 + 1u) * pg.rs + head, row_scale(o1, 1.0 / l.y));
    gstats[st + 1u] = vec4f(m.y, l.y, 0.0, 0.0);
  }
  if (r0 + 2u < t) {
    gout_store((seq0 + r0 + 2u) * pg.rs + head, row_scale(o2, 1.0 / l.z));
    gstats[st + 2u] = vec4f(m.z, l.z, 0.0, 0.0);
  }
  if (r0 + 3u < t) {
    gout_store((seq0 + r0 + 3u) * pg.rs + head, row_scale(o3, 1.0 / l.w));
    gstats[st + 3u] = vec4f(m.w, l.w, 0.0, 0.0);
  }
}

// ---- attn_bwd_dq64: dQ, and the (m, l, Δ) statistics texture for attn_bwd_dkv64 ----------------------------
@group(0) @binding(0) var<storage, read> hq: array<vec4f>;                // (B, T, H·16) queries
@group(0) @binding(1) var hk_tex: texture_storage_2d<rgba32float, read>;  // (H·16) × (Bc·T) keys
@group(0) @binding(2) var hv_tex: texture_storage_2d<rgba32float, read>;  // (H·16) × (Bc·T) values
@group(0) @binding(3) var<storage, read> hmask: array<f32>;               // (B, T) key mask
@group(0) @binding(4) var<storage, read> hdout: array<vec4f>;             // (B, T, H·16) dL/dO
@group(0) @binding(5) var<storage, read> hout: array<vec4f>;              // (B, T, H·16) O
@group(0) @binding(6) var<storage, read> hstats: array<vec4f>;            // (B, H, T) (m, l, -, -)
@group(0) @binding(7) var<storage, read_write> hdq: array<vec4f>;         // (B, T, H·16) dL/dQ
@group(0) @binding(8) var hst_tex: texture_storage_2d<rgba32float, write>; // T × (Bc·H): (m, l, Δ, 0)
@group(0) @binding(9) var<uniform> ph_u: array<Params, 2>; // element 0 (see UNIFORMS)

fn hq_row(o: u32) -> Row {
  return Row(mat4x4f(hq[o], hq[o + 1u], hq[o + 2u], hq[o + 3u]), mat4x4f(hq[o + 4u], hq[o + 5u], hq[o + 6u], hq[o + 7u]),
             mat4x4f(hq[o + 8u], hq[o + 9u], hq[o + 10u], hq[o + 11u]),
             mat4x4f(hq[o + 12u], hq[o + 13u], hq[o + 14u], hq[o + 15u]));
}

fn hdout_row(o: u32) -> Row {
  return Row(mat4x4f(hdout[o], hdout[o + 1u], hdout[o + 2u], hdout[o + 3u]),
             mat4x4f(hdout[o + 4u], hdout[o + 5u], hdout[o + 6u], hdout[o + 7u]),
             mat4x4f(hdout[o + 8u], hdout[o + 9u], hdout[o + 10u], hdout[o + 11u]),
             mat4x4f(hdout[o + 12u], hdout[o + 13u], hdout[o + 14u], hdout[o + 15u]));
}

fn hout_row(o: u32) -> Row {
  return Row(mat4x4f(hout[o], hout[o + 1u], hout[o + 2u], hout[o + 3u]),
             mat4x4f(hout[o + 4u], hout[o + 5u], hout[o + 6u], hout[o + 7u]),
             mat4x4f(hout[o + 8u], hout[o + 9u], hout[o + 10u], hout[o + 11u]),
             mat4x4f(hout[o + 12u], hout[o + 13u], hout[o + 14u], hout[o + 15u]));
}

fn hdq_store(o: u32, x: Row) {
  hdq[o] = x.a[0]; hdq[o + 1u] = x.a[1]; hdq[o + 2u] = x.a[2]; hdq[o + 3u] = x.a[3];
  hdq[o + 4u] = x.b[0]; hdq[o + 5u] = x.b[1]; hdq[o + 6u] = x.b[2]; hdq[o + 7u] = x.b[3];
  hdq[o + 8u] = x.c[0]; hdq[o + 9u] = x.c[1]; hdq[o + 10u] = x.c[2]; hdq[o + 11u] = x.c[3];
  hdq[o + 12u] = x.d[0]; hdq[o + 13u] = x.d[1]; hdq[o + 14u] = x.d[2]; hdq[o + 15u] = x.d[3];
}

@compute @workgroup_size(WG)
fn attn_bwd_dq64(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let ph = ph_u[wid.z];
  let t = ph.t;
  let b = ph.b0 + wid.y / ph.h;
  let bh = b * ph.h + wid.y % ph.h;
  let head = (wid.y % ph.h) * 16u;
  let seq0 = b * t;
  let tex0 = (b - ph.b0) * t;
  let r0 = (wid.x * WG + lid.x) * 4u;
  if (r0 >= t) { return; } // all 4 rows past T (short sequences): nothing to store, and no barriers
  let last = t - 1u;
  let o0 = (seq0 + min(r0, last)) * ph.rs + head;
  let o1 = (seq0 + min(r0 + 1u, last)) * ph.rs + head;
  let o2 = (seq0 + min(r0 + 2u, last)) * ph.rs + head;
  let o3 = (seq0 + min(r0 + 3u, last)) * ph.rs + head;
  let q0 = hq_row(o0);
  let q1 = hq_row(o1);
  let q2 = hq_row(o2);
  let q3 = hq_row(o3);
  let g0 = hdout_row(o0);
  let g1 = hdout_row(o1);
  let g2 = hdout_row(o2);
  let g3 = hdout_row(o3);
  // Δ = rowsum(dO ⊙ O) = rowsum(P ⊙ dP) (dropout included)
  let delta = vec4f(row_dot(g0, hout_row(o0)), row_dot(g1, hout_row(o1)), row_dot(g2, hout_row(o2)),
                    row_dot(g3, hout_row(o3)));
  let st0 = hstats[bh * t + min(r0, last)];
  let st1 = hstats[bh * t + min(r0 + 1u, last)];
  let st2 = hstats[bh * t + min(r0 + 2u, last)];
  let st3 = hstats[bh * t + min(r0 + 3u, last)];
  let m = vec4f(st0.x, st1.x, st2.x, st3.x);
  let l = vec4f(st0.y, st1.y, st2.y, st3.y);
  var dq0 = row_zero();
  var dq1 = row_zero();
  var dq2 = row_zero();
  var dq3 = row_zero();
  let rng0 = (bh * t + r0) * t;
  for (var j = 0u; j < t; j++) {
    let k = hk_tex_row(head, tex0 + j);
    let v = hv_tex_row(head, tex0 + j);
    var bias = 0.0;
    if (ph.has_mask != 0u) { bias = mask_bias(hmask[seq0 + j]); }
    let p = exp(dots4(q0, q1, q2, q3, k) / ph.sqrt_d + bias - m) / l;
    var dp = dots4(g0, g1, g2, g3, v);
    if (ph.use_dropout != 0u) { dp *= drop4(ph.seed, rng0 + j, t, ph.p_drop, ph.keep_scale); }
    let ds = p * (dp - delta) / ph.sqrt_d;
    dq0 = row_fma(ds.x, k, dq0);
    dq1 = row_fma(ds.y, k, dq1);
    dq2 = row_fma(ds.z, k, dq2);
    dq3 = row_fma(ds.w, k, dq3);
  }
  let y = wid.y; // (b − b0)·H + h: the statistics texture row
  if (r0 < t) {
    hdq_store(o0, dq0);
    textureStore(hst_tex, vec2u(r0, y), vec4f(m.x, l.x, delta.x, 0.0));
  }
  if (r0 + 1u < t) {
    hdq_store(o1, dq1);
    textureStore(hst_tex, vec2u(r0 + 1u, y), vec4f(m.y, l.y, delta.y, 0.0));
  }
  if (r0 + 2u < t) {
    hdq_store(o2, dq2);
    textureStore(hst_tex, vec2u(r0 + 2u, y), vec4f(m.z, l.z, delta.z, 0.0));
  }
  if (r0 + 3u < t) {
    hdq_store(o3, dq3);
    textureStore(hst_tex, vec2u(r0 + 3u, y), vec4f(m.w, l.w, delta.w, 0.0));
  }
}

// ---- attn_bwd_dkv64: dK and dV, one invocation per 4 key rows ---------------------------------------------
@group(0) @binding(0) var iq_tex: texture_storage_2d<rgba32float, read>;  // (H·16) × (Bc·T) queries
@group(0) @binding(1) var<storage, read> ik: array<vec4f>;                // (B, T, H·16) keys
@group(0) @binding(2) var<storage, read> iv: array<vec4f>;                // (B, T, H·16) values
@group(0) @binding(3) var<storage, read> imask: array<f32>;               // (B, T) key mask
@group(0) @binding(4) var ig_tex: texture_storage_2d<rgba32float, read>;  // (H·16) × (Bc·T) dL/dO
@group(0) @binding(5) var ist_tex: texture_storage_2d<rgba32float, read>; // T × (Bc·H) (m, l, Δ, 0)
@group(0) @binding(6) var<storage, read_write> idk: array<vec4f>;         // (B, T, H·16) dL/dK
@group(0) @binding(7) var<storage, read_write> idv: array<vec4f>;         // (B, T, H·16) dL/dV
@group(0) @binding(8) var<uniform> pi_u: array<Params, 2>; // element 0 (see UNIFORMS)

fn ik_row(o: u32) -> Row {
  return Row(mat4x4f(ik[o], ik[o + 1u], ik[o + 2u], ik[o + 3u]), mat4x4f(ik[o + 4u], ik[o + 5u], ik[o + 6u], ik[o + 7u]),
             mat4x4f(ik[o + 8u], ik[o + 9u], ik[o + 10u], ik[o + 11u]),
             mat4x4f(ik[o + 12u], ik[o + 13u], ik[o + 14u], ik[o + 15u]));
}

fn iv_row(o: u32) -> Row {
  return Row(mat4x4f(iv[o], iv[o + 1u], iv[o + 2u], iv[o + 3u]), mat4x4f(iv[o + 4u], iv[o + 5u], iv[o + 6u], iv[o + 7u]),
             mat4x4f(iv[o + 8u], iv[o + 9u], iv[o + 10u], iv[o + 11u]),
             mat4x4f(iv[o + 12u], iv[o + 13u], iv[o + 14u], iv[o + 15u]));
}

fn idk_store(o: u32, x: Row) {
  idk[o] = x.a[0]; idk[o + 1u] = x.a[1]; idk[o + 2u] = x.a[2]; idk[o + 3u] = x.a[3];
  idk[o + 4u] = x.b[0]; idk[o + 5u] = x.b[1]; idk[o + 6u] = x.b[2]; idk[o + 7u] = x.b[3];
  idk[o + 8u] = x.c[0]; idk[o + 9u] = x.c[1]; idk[o + 10u] = x.c[2]; idk[o + 11u] = x.c[3];
  idk[o + 12u] = x.d[0]; idk[o + 13u] = x.d[1]; idk[o + 14u] = x.d[2]; idk[o + 15u] = x.d[3];
}

fn idv_store(o: u32, x: Row) {
  idv[o] = x.a[0]; idv[o + 1u] = x.a[1]; idv[o + 2u] = x.a[2]; idv[o + 3u] = x.a[3];
  idv[o + 4u] = x.b[0]; idv[o + 5u] = x.b[1]; idv[o + 6u] = x.b[2]; idv[o + 7u] = x.b[3];
  idv[o + 8u] = x.c[0]; idv[o + 9u] = x.c[1]; idv[o + 10u] = x.c[2]; idv[o + 11u] = x.c[3];
  idv[o + 12u] = x.d[0]; idv[o + 13u] = x.d[1]; idv[o + 14u] = x.d[2]; idv[o + 15u] = x.d[3];
}

@compute @workgroup_size(WG)
fn attn_bwd_dkv64(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pi = pi_u[wid.z];
  let t = pi.t;
  let b = pi.b0 + wid.y / pi.h;
  let bh = b * pi.h + wid.y % pi.h;
  let head = (wid.y % pi.h) * 16u;
  let seq0 = b * t;
  let tex0 = (b - pi.b0) * t;
  let r0 = (wid.x * WG + lid.x) * 4u; // key rows r0 .. r0+3
  if (r0 >= t) { return; } // all 4 rows past T (short sequences): nothing to store, and no barriers
  let last = t - 1u;
  let o0 = (seq0 + min(r0, last)) * pi.rs + head;
  let o1 = (seq0 + min(r0 + 1u, last)) * pi.rs + head;
  let o2 = (seq0 + min(r0 + 2u, last)) * pi.rs + head;
  let o3 = (seq0 + min(r0 + 3u, last)) * pi.rs + head;
  let k0 = ik_row(o0);
  let k1 = ik_row(o1);
  let k2 = ik_row(o2);
  let k3 = ik_row(o3);
  let v0 = iv_row(o0);
  let v1 = iv_row(o1);
  let v2 = iv_row(o2);
  let v3 = iv_row(o3);
  var bias = vec4f(0.0);
  if (pi.has_mask != 0u) {
    bias = vec4f(mask_bias(imask[seq0 + min(r0, last)]), mask_bias(imask[seq0 + min(r0 + 1u, last)]),
                 mask_bias(imask[seq0 + min(r0 + 2u, last)]), mask_bias(imask[seq0 + min(r0 + 3u, last)]));
  }
  var dk0 = row_zero();
  var dk1 = row_zero();
  var dk2 = row_zero();
  var dk3 = row_zero();
  var dv0 = row_zero();
  var dv1 = row_zero();
  var dv2 = row_zero();
  var dv3 = row_zero();
  let rng_bh = bh * t; // dropout index of (i, j) = (rng_bh + i)·T + j
  for (var i0 = 0u; i0 < t; i0 += 4u) {
    // Four queries per step (clamped into range; queries past T get weight 0).
    let ia = i0;
    let ib = min(i0 + 1u, last);
    let ic = min(i0 + 2u, last);
    let id = min(i0 + 3u, last);
    let qa = iq_tex_row(head, tex0 + ia);
    let qb = iq_tex_row(head, tex0 + ib);
    let qc = iq_tex_row(head, tex0 + ic);
    let qd = iq_tex_row(head, tex0 + id);
    let ga = ig_tex_row(head, tex0 + ia);
    let gb = ig_tex_row(head, tex0 + ib);
    let gc = ig_tex_row(head, tex0 + ic);
    let gd = ig_tex_row(head, tex0 + id);
    let st_a = textureLoad(ist_tex, vec2u(ia, wid.y));
    let st_b = textureLoad(ist_tex, vec2u(ib, wid.y));
    let st_c = textureLoad(ist_tex, vec2u(ic, wid.y));
    let st_d = textureLoad(ist_tex, vec2u(id, wid.y));
    // Per query: probabilities p, dropout multipliers z and dS over this invocation's 4 keys.
    let pa = exp(dots4(k0, k1, k2, k3, qa) / pi.sqrt_d + bias - st_a.x) / st_a.y;
    let pb = select(vec4f(0.0), exp(dots4(k0, k1, k2, k3, qb) / pi.sqrt_d + bias - st_b.x) / st_b.y, i0 + 1u < t);
    let pc = select(vec4f(0.0), exp(dots4(k0, k1, k2, k3, qc) / pi.sqrt_d + bias - st_c.x) / st_c.y, i0 + 2u < t);
    let pd = select(vec4f(0.0), exp(dots4(k0, k1, k2, k3, qd) / pi.sqrt_d + bias - st_d.x) / st_d.y, i0 + 3u < t);
    var za = vec4f(1.0);
    var zb = vec4f(1.0);
    var zc = vec4f(1.0);
    var zd = vec4f(1.0);
    if (pi.use_dropout != 0u) {
      za = drop4k(pi.seed, (rng_bh + ia) * t + r0, pi.p_drop, pi.keep_scale);
      zb = drop4k(pi.seed, (rng_bh + ib) * t + r0, pi.p_drop, pi.keep_scale);
      zc = drop4k(pi.seed, (rng_bh + ic) * t + r0, pi.p_drop, pi.keep_scale);
      zd = drop4k(pi.seed, (rng_bh + id) * t + r0, pi.p_drop, pi.keep_scale);
    }
    let dsa = pa * (dots4(v0, v1, v2, v3, ga) * za - st_a.z) / pi.sqrt_d;
    let dsb = pb * (dots4(v0, v1, v2, v3, gb) * zb - st_b.z) / pi.sqrt_d;
    let dsc = pc * (dots4(v0, v1, v2, v3, gc) * zc - st_c.z) / pi.sqrt_d;
    let dsd = pd * (dots4(v0, v1, v2, v3, gd) * zd - st_d.z) / pi.sqrt_d;
    let pza = pa * za;
    let pzb = pb * zb;
    let pzc = pc * zc;
    let pzd = pd * zd;
    // dV_j += Σ_i P_ij Z_ij dO_i and dK_j += Σ_i dS_ij q_i over the 4 queries (weights transposed to
    // key-major).
    dv0 = row_acc4(dv0, 1.0, vec4f(pza.x, pzb.x, pzc.x, pzd.x), ga, gb, gc, gd);
    dv1 = row_acc4(dv1, 1.0, vec4f(pza.y, pzb.y, pzc.y, pzd.y), ga, gb, gc, gd);
    dv2 = row_acc4(dv2, 1.0, vec4f(pza.z, pzb.z, pzc.z, pzd.z), ga, gb, gc, gd);
    dv3 = row_acc4(dv3, 1.0, vec4f(pza.w, pzb.w, pzc.w, pzd.w), ga, gb, gc, gd);
    dk0 = row_acc4(dk0, 1.0, vec4f(dsa.x, dsb.x, dsc.x, dsd.x), qa, qb, qc, qd);
    dk1 = row_acc4(dk1, 1.0, vec4f(dsa.y, dsb.y, dsc.y, dsd.y), qa, qb, qc, qd);
    dk2 = row_acc4(dk2, 1.0, vec4f(dsa.z, dsb.z, dsc.z, dsd.z), qa, qb, qc, qd);
    dk3 = row_acc4(dk3, 1.0, vec4f(dsa.w, dsb.w, dsc.w, dsd.w), qa, qb, qc, qd);
  }
  if (r0 < t) {
    idk_store(o0, dk0);
    idv_store(o0, dv0);
  }
  if (r0 + 1u < t) {
    idk_store(o1, dk1);
    idv_store(o1, dv1);
  }
  if (r0 + 2u < t) {
    idk_store(o2, dk2);
    idv_store(o2, dv2);
  }
  if (r0 + 3u < t) {
    idk_store(o3, dk3);
    idv_store(o3, dv3);
  }
}
