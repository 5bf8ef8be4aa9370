// Fused multi-head self-attention, HF BertSelfAttention (eager) semantics:
//   S = Q·Kᵀ / sqrt(D) + (1 − mask)·f32_min,  P = softmax_rows(S),  O = dropout(P)·V
// with its backward (dQ, dK, dV), flash-style: the probabilities are never stored; the forward saves the
// per-row max and sum (m, l) and the backward recomputes P = exp(S − m) / l and regenerates the dropout
// mask from the counter RNG (prepended: rng_uniform).
//
// Layout: q, k, v, out and their gradients are (B, T, H·D4) arrays of vec4 — exactly the (B, T, H·D)
// activations of BERT's query/key/value Linear layers when D is a multiple of 4 (heads are contiguous
// D-slices of a row, read with strides; nothing is permuted); D4 = D/4 is an override constant. For other
// D the host pads each head to a multiple of 4 with zeros (pad_heads/unpad_heads) — zeros add nothing to
// the dot products. `rs` is the row stride in vec4s (H·D4). mask is f32 (B, T) of 1 (attend) / 0 (masked
// key), unused when has_mask = 0. stats is (B, H, T) of vec4 (m, l, Δ, 0): m the row max of S, l the sum
// of exp(S − m) (the softmax normaliser), Δ = rowsum(dO ⊙ O) written by attn_bwd_dq.
//
// Parallelisation: one invocation per query row (forward, dQ) or per key row (dK, dV); a workgroup holds
// WG consecutive rows of one (batch, head) = wid.y. The other operand is read in a loop whose address is
// the same for every invocation of the workgroup (a broadcast load, cheap on CPU adapters), in register
// tiles of KT keys (queries). Rows past T compute on row T−1 and store nothing (no divergent control flow
// around the loops).
//
// Dropout: probability (b, h, i, j) is kept iff rng_uniform(seed, ((b·H + h)·T + i)·T + j) >= p_drop and
// then scaled by keep_scale = 1/(1 − p_drop); use_dropout = 0 skips it.
//
// Contract: every entry point OVERWRITES its outputs (attn_bwd_dq writes only the Δ lane of stats).

const F32_MIN: f32 = -3.4028234663852886e38;
const MAX_D4: u32 = 32u; // head size up to 128
const KT: u32 = 32u;     // keys (queries) per register tile
override D4: u32 = 16u;  // head size in vec4s (D rounded up to a multiple of 4, divided by 4)
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
@group(0) @binding(6) var<uniform> pf: Params;

@compute @workgroup_size(WG)
fn attn_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = pf.t;
  let bh = wid.y;
  let b = bh / pf.h;
  let head = (bh - b * pf.h) * D4;
  let row = wid.x * WG + lid.x;
  let i = min(row, t - 1u);
  let seq0 = b * t;                       // first row of this batch
  let qrow = (seq0 + i) * pf.rs + head;
  var q: array<vec4f, MAX_D4>;
  var o: array<vec4f, MAX_D4>;
  for (var c = 0u; c < D4; c++) {
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
      for (var c = 0u; c < D4; c++) { acc = fma(q[c], fk[krow + c], acc); }
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
    for (var c = 0u; c < D4; c++) {
      var acc = o[c] * corr;
      for (var jj = 0u; jj < nk; jj++) { acc = fma(vec4f(s[jj]), fv[(seq0 + j0 + jj) * pf.rs + head + c], acc); }
      o[c] = acc;
    }
  }
  if (row < t) {
    for (var c = 0u; c < D4; c++) { fout[qrow + c] = o[c] / l; }
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
@group(0) @binding(8) var<uniform> pq: Params;

@compute @workgroup_size(WG)
fn attn_bwd_dq(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = pq.t;
  let bh = wid.y;
  let b = bh / pq.h;
  let head = (bh - b * pq.h) * D4;
  let row = wid.x * WG + lid.x;
  let i = min(row, t - 1u);
  let seq0 = b * t;
  let qrow = (seq0 + i) * pq.rs + head;
  var q: array<vec4f, MAX_D4>;
  var g: array<vec4f, MAX_D4>;
  var dq: array<vec4f, MAX_D4>;
  var dacc = vec4f(0.0);
  for (var c = 0u; c < D4; c++) {
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
      for (var c = 0u; c < D4; c++) {
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
    for (var c = 0u; c < D4; c++) {
      var acc = dq[c];
      for (var jj = 0u; jj < nk; jj++) { acc = fma(vec4f(ds[jj]), qk[(seq0 + j0 + jj) * pq.rs + head + c], acc); }
      dq[c] = acc;
    }
  }
  if (row < t) {
    for (var c = 0u; c < D4; c++) { qdq[qrow + c] = dq[c]; }
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
@group(0) @binding(8) var<uniform> pk: Params;

@compute @workgroup_size(WG)
fn attn_bwd_dkv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = pk.t;
  let bh = wid.y;
  let b = bh / pk.h;
  let head = (bh - b * pk.h) * D4;
  let row = wid.x * WG + lid.x;
  let j = min(row, t - 1u);
  let seq0 = b * t;
  let krow = (seq0 + j) * pk.rs + head;
  var k: array<vec4f, MAX_D4>;
  var v: array<vec4f, MAX_D4>;
  var dk: array<vec4f, MAX_D4>;
  var dv: array<vec4f, MAX_D4>;
  for (var c = 0u; c < D4; c++) {
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
      for (var c = 0u; c < D4; c++) {
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
    for (var c = 0u; c < D4; c++) {
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
    for (var c = 0u; c < D4; c++) {
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
}

@group(0) @binding(0) var<storage, read> pin: array<f32>;          // (N, H, D) or (N, H, DP)
@group(0) @binding(1) var<storage, read_write> pout: array<f32>;   // (N, H, DP) or (N, H, D)
@group(0) @binding(2) var<uniform> pp: PadParams;

@compute @workgroup_size(256)
fn pad_heads(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (e >= pp.n) { return; }
  let head = e / pp.dp;
  let d = e - head * pp.dp;
  pout[e] = select(0.0, pin[head * pp.d + min(d, pp.d - 1u)], d < pp.d);
}

@compute @workgroup_size(256)
fn unpad_heads(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid: vec3u) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (e >= pp.n) { return; }
  let head = e / pp.d;
  pout[e] = pin[head * pp.dp + (e - head * pp.d)];
}
