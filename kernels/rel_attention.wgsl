// Disentangled self-attention (HF DeBERTa-v2/v3 DisentangledSelfAttention, eager) and its backward:
//   S_ij = q_i·k_j / scale + (q_i·pk[c_ij] / scale + k_j·pq[p_ij] / scale)      (content→content, c2p, p2c)
//   S_ij = f32_min where mask_i·mask_j = 0  (masked_fill: a padding query attends uniformly to all keys)
//   P = softmax_rows(S),  O = dropout(P)·V
// with c_ij = clamp(bucket(i − j) + span, 0, 2·span − 1) and p_ij = clamp(−bucket(j − i) + span, 0,
// 2·span − 1) read from host-built tables; scale = sqrt(D · (1 + #pos_att_types)). A disabled term is a
// zero plane of `pos` (its products add exactly 0).
//
// Layout: q, k, v, out and their gradients are (B, T, H·D4) arrays of vec4 (the (B, T, H·D) activations of
// query_proj/key_proj/value_proj, heads as contiguous D-slices; D must be a multiple of 4); rs = H·D4.
// pos is (2, R, H·D4): plane 0 = pk = key_proj(rel_embeddings) (c2p), plane 1 = pq = query_proj(
// rel_embeddings) (p2c), R = 2·span rows. `lay` is one u32 array built by the host (offsets in Params):
//   cidx (T, T) c_ij | pidx (T, T) p_ij | coff (R + 1), cpairs (T·T): the pairs i·T + j with c_ij = r
//   listed at [coff[r], coff[r+1]) | poff, ppairs: the same for p_ij | mask (B, T) 1 = real token.
// stats is (B, H, T) vec2 (m, l): row max of S and Σ exp(S − m). sc (B, H, T, T) holds S from the
// forward (written only when save = 1); the backward turns it into W = dL/d(q·k) = dL/dS / scale in place
// and writes P (before dropout) to pr (B, H, T, T).
//
// Dropout: probability (b, h, i, j) is kept iff rng_uniform(seed, ((b·H + h)·T + i)·T + j) >= p_drop, then
// scaled by keep_scale = 1/(1 − p_drop) (same stream layout as attention.wgsl).
//
// Contract: every entry point OVERWRITES its outputs (rel_attn_bwd_scores rewrites sc in place).
// Entry points: rel_attn_fwd (out, stats, sc), rel_attn_bwd_scores (sc → W, pr), rel_attn_bwd_dq (dq),
// rel_attn_bwd_dkv (dk, dv), rel_attn_bwd_pos (dpos). Row kernels: workgroup (x, y) = rows [x·WG,
// (x+1)·WG) of (batch, head) y; rows past T compute on row T−1 and store nothing.
//
// UNIFORMS: parameters are read as `*_u[wid.z]` (element 0), as in attention.wgsl, so lavapipe keeps one
// compiled shader for every shape.

const F32_MIN: f32 = -3.4028234663852886e38;
const MAX_D4: u32 = 32u; // head size up to 128
const KT: u32 = 32u;     // keys per register tile of the forward
override WG: u32 = 64u;  // rows per workgroup (row kernels)

struct Params {
  t: u32,           // sequence length T
  h: u32,           // heads H
  rs: u32,          // row stride of q, k, v, out, pos rows in vec4s: H·D4
  d4: u32,          // head size in vec4s
  r: u32,           // rows of each pos plane: 2·span
  scale: f32,       // sqrt(D · (1 + #pos_att_types)), scores are divided by it
  use_dropout: u32, // 1: dropout on the probabilities
  p_drop: f32,      // dropout probability
  keep_scale: f32,  // 1/(1 − p_drop) (0 when p_drop = 1)
  seed: u32,        // dropout stream
  save: u32,        // forward: 1 = write the scores to sc
  b: u32,           // batch size B (rel_attn_bwd_pos)
  off_p: u32,       // offsets into lay: pidx
  off_coff: u32,    //   coff
  off_cpairs: u32,  //   cpairs
  off_poff: u32,    //   poff
  off_ppairs: u32,  //   ppairs
  off_mask: u32,    //   mask
  pad0: u32,
  pad1: u32,        // (struct size 80: a multiple of 16)
}

fn drop_factor(seed: u32, idx: u32, p_drop: f32, keep_scale: f32) -> f32 {
  return select(0.0, keep_scale, rng_uniform(seed, idx) >= p_drop);
}

fn hsum(a: vec4f) -> f32 {
  return (a.x + a.y) + (a.z + a.w);
}

// ---- rel_attn_fwd -------------------------------------------------------------------------------------------
@group(0) @binding(0) var<storage, read> fq: array<vec4f>;            // (B, T, H·D4) queries
@group(0) @binding(1) var<storage, read> fk: array<vec4f>;            // (B, T, H·D4) keys
@group(0) @binding(2) var<storage, read> fv: array<vec4f>;            // (B, T, H·D4) values
@group(0) @binding(3) var<storage, read> fpos: array<vec4f>;          // (2, R, H·D4) pk | pq
@group(0) @binding(4) var<storage, read> flay: array<u32>;            // index tables and mask (see top)
@group(0) @binding(5) var<storage, read_write> fout: array<vec4f>;    // (B, T, H·D4) merged heads
@group(0) @binding(6) var<storage, read_write> fstats: array<vec2f>;  // (B, H, T) (m, l)
@group(0) @binding(7) var<storage, read_write> fsc: array<f32>;       // (B, H, T, T) S (save = 1)
@group(0) @binding(8) var<uniform> pf_u: array<Params, 2>;

@compute @workgroup_size(WG)
fn rel_attn_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pr = pf_u[wid.z];
  let t = pr.t;
  let bh = wid.y;
  let b = bh / pr.h;
  let head = (bh - b * pr.h) * pr.d4;
  let row = wid.x * WG + lid.x;
  let i = min(row, t - 1u);
  let seq0 = b * t;
  let qrow = (seq0 + i) * pr.rs + head;
  let plane = pr.r * pr.rs;
  var q: array<vec4f, MAX_D4>;
  var o: array<vec4f, MAX_D4>;
  for (var c = 0u; c < pr.d4; c++) {
    q[c] = fq[qrow + c];
    o[c] = vec4f(0.0);
  }
  let qmask = flay[pr.off_mask + seq0 + i];
  var m = F32_MIN;
  var l = 0.0;
  var s: array<f32, KT>;
  let srow = (bh * t + i) * t;
  for (var j0 = 0u; j0 < t; j0 += KT) {
    let nk = min(KT, t - j0);
    var tmax = m;
    for (var jj = 0u; jj < nk; jj++) {
      let j = j0 + jj;
      let krow = (seq0 + j) * pr.rs + head;
      let crow = flay[i * t + j] * pr.rs + head;
      let prow = plane + flay[pr.off_p + i * t + j] * pr.rs + head;
      var cc = vec4f(0.0);
      var c2p = vec4f(0.0);
      var p2c = vec4f(0.0);
      for (var c = 0u; c < pr.d4; c++) {
        let kc = fk[krow + c];
        cc = fma(q[c], kc, cc);
        c2p = fma(q[c], fpos[crow + c], c2p);
        p2c = fma(kc, fpos[prow + c], p2c);
      }
      var sc = hsum(cc) / pr.scale + (hsum(c2p) / pr.scale + hsum(p2c) / pr.scale);
      if (qmask * flay[pr.off_mask + seq0 + j] == 0u) { sc = F32_MIN; }
      s[jj] = sc;
      if (pr.save != 0u && row < t) { fsc[srow + j] = sc; }
      tmax = max(tmax, sc);
    }
    let corr = exp(m - tmax);
    m = tmax;
    l *= corr;
    for (var jj = 0u; jj < nk; jj++) {
      var e = exp(s[jj] - m);
      l += e;
      if (pr.use_dropout != 0u) {
        e *= drop_factor(pr.seed, srow + j0 + jj, pr.p_drop, pr.keep_scale);
      }
      s[jj] = e;
    }
    for (var c = 0u; c < pr.d4; c++) {
      var acc = o[c] * corr;
      for (var jj = 0u; jj < nk; jj++) { acc = fma(vec4f(s[jj]), fv[(seq0 + j0 + jj) * pr.rs + head + c], acc); }
      o[c] = acc;
    }
  }
  if (row < t) {
    for (var c = 0u; c < pr.d4; c++) { fout[qrow + c] = o[c] / l; }
    fstats[bh * t + i] = vec2f(m, l);
  }
}

// ---- rel_attn_bwd_scores: W = dL/dS / scale (0 where masked) in place of S, and P ---------------------------
// dL/dS_ij = P_ij · (Z_ij · dO_i·v_j − Δ_i) with Δ_i = Σ_j P_ij Z_ij dO_i·v_j (= rowsum(dO ⊙ O)).
@group(0) @binding(0) var<storage, read> sv: array<vec4f>;            // (B, T, H·D4) values
@group(0) @binding(1) var<storage, read> slay: array<u32>;            // index tables and mask
@group(0) @binding(2) var<storage, read> sdout: array<vec4f>;         // (B, T, H·D4) dL/dO
@group(0) @binding(3) var<storage, read> sstats: array<vec2f>;        // (B, H, T) (m, l)
@group(0) @binding(4) var<storage, read_write> ssc: array<f32>;       // (B, H, T, T) S in, W out
@group(0) @binding(5) var<storage, read_write> spr: array<f32>;       // (B, H, T, T) P (before dropout)
@group(0) @binding(6) var<uniform> ps_u: array<Params, 2>;

@compute @workgroup_size(WG)
fn rel_attn_bwd_scores(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pr = ps_u[wid.z];
  let t = pr.t;
  let bh = wid.y;
  let b = bh / pr.h;
  let head = (bh - b * pr.h) * pr.d4;
  let row = wid.x * WG + lid.x;
  if (row >= t) { return; }
  let i = row;
  let seq0 = b * t;
  let qrow = (seq0 + i) * pr.rs + head;
  var g: array<vec4f, MAX_D4>;
  for (var c = 0u; c < pr.d4; c++) { g[c] = sdout[qrow + c]; }
  let st = sstats[bh * t + i];
  let srow = (bh * t + i) * t;
  var delta = 0.0;
  for (var j = 0u; j < t; j++) {
    let vrow = (seq0 + j) * pr.rs + head;
    var acc = vec4f(0.0);
    for (var c = 0u; c < pr.d4; c++) { acc = fma(g[c], sv[vrow + c], acc); }
    var dp = hsum(acc);
    if (pr.use_dropout != 0u) { dp *= drop_factor(pr.seed, srow + j, pr.p_drop, pr.keep_scale); }
    let p = exp(ssc[srow + j] - st.x) / st.y;
    delta += p * dp;
    spr[srow + j] = p;
    ssc[srow + j] = dp;
  }
  let qmask = slay[pr.off_mask + seq0 + i];
  for (var j = 0u; j < t; j++) {
    let keep = qmask * slay[pr.off_mask + seq0 + j] != 0u;
    ssc[srow + j] = select(0.0, spr[srow + j] * (ssc[srow + j] - delta) / pr.scale, keep);
  }
}

// ---- rel_attn_bwd_dq: dq_i = Σ_j W_ij (k_j + pk[c_ij]) ------------------------------------------------------
@group(0) @binding(0) var<storage, read> qk: array<vec4f>;            // (B, T, H·D4) keys
@group(0) @binding(1) var<storage, read> qpos: array<vec4f>;          // (2, R, H·D4) pk | pq
@group(0) @binding(2) var<storage, read> qlay: array<u32>;            // index tables and mask
@group(0) @binding(3) var<storage, read> qw: array<f32>;              // (B, H, T, T) W
@group(0) @binding(4) var<storage, read_write> qdq: array<vec4f>;     // (B, T, H·D4) dL/dq
@group(0) @binding(5) var<uniform> pq_u: array<Params, 2>;

@compute @workgroup_size(WG)
fn rel_attn_bwd_dq(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pr = pq_u[wid.z];
  let t = pr.t;
  let bh = wid.y;
  let b = bh / pr.h;
  let head = (bh - b * pr.h) * pr.d4;
  let row = wid.x * WG + lid.x;
  if (row >= t) { return; }
  let i = row;
  let seq0 = b * t;
  var dq: array<vec4f, MAX_D4>;
  for (var c = 0u; c < pr.d4; c++) { dq[c] = vec4f(0.0); }
  let srow = (bh * t + i) * t;
  for (var j = 0u; j < t; j++) {
    let w = vec4f(qw[srow + j]);
    let krow = (seq0 + j) * pr.rs + head;
    let crow = qlay[i * t + j] * pr.rs + head;
    for (var c = 0u; c < pr.d4; c++) { dq[c] = fma(w, qk[krow + c] + qpos[crow + c], dq[c]); }
  }
  let qrow = (seq0 + i) * pr.rs + head;
  for (var c = 0u; c < pr.d4; c++) { qdq[qrow + c] = dq[c]; }
}

// ---- rel_attn_bwd_dkv: dk_j = Σ_i W_ij (q_i + pq[p_ij]),  dv_j = Σ_i P_ij Z_ij dO_i -------------------------
@group(0) @binding(0) var<storage, read> kq: array<vec4f>;            // (B, T, H·D4) queries
@group(0) @binding(1) var<storage, read> kpos: array<vec4f>;          // (2, R, H·D4) pk | pq
@group(0) @binding(2) var<storage, read> klay: array<u32>;            // index tables and mask
@group(0) @binding(3) var<storage, read> kw: array<f32>;              // (B, H, T, T) W
@group(0) @binding(4) var<storage, read> kpr: array<f32>;             // (B, H, T, T) P
@group(0) @binding(5) var<storage, read> kdout: array<vec4f>;         // (B, T, H·D4) dL/dO
@group(0) @binding(6) var<storage, read_write> kdk: array<vec4f>;     // (B, T, H·D4) dL/dk
@group(0) @binding(7) var<storage, read_write> kdv: array<vec4f>;     // (B, T, H·D4) dL/dv
@group(0) @binding(8) var<uniform> pk_u: array<Params, 2>;

@compute @workgroup_size(WG)
fn rel_attn_bwd_dkv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pr = pk_u[wid.z];
  let t = pr.t;
  let bh = wid.y;
  let b = bh / pr.h;
  let head = (bh - b * pr.h) * pr.d4;
  let row = wid.x * WG + lid.x;
  if (row >= t) { return; }
  let j = row;
  let seq0 = b * t;
  let plane = pr.r * pr.rs;
  var dk: array<vec4f, MAX_D4>;
  var dv: array<vec4f, MAX_D4>;
  for (var c = 0u; c < pr.d4; c++) {
    dk[c] = vec4f(0.0);
    dv[c] = vec4f(0.0);
  }
  for (var i = 0u; i < t; i++) {
    let sidx = (bh * t + i) * t + j;
    let w = vec4f(kw[sidx]);
    var pz = kpr[sidx];
    if (pr.use_dropout != 0u) { pz *= drop_factor(pr.seed, sidx, pr.p_drop, pr.keep_scale); }
    let qrow = (seq0 + i) * pr.rs + head;
    let prow = plane + klay[pr.off_p + i * t + j] * pr.rs + head;
    for (var c = 0u; c < pr.d4; c++) {
      dk[c] = fma(w, kq[qrow + c] + kpos[prow + c], dk[c]);
      dv[c] = fma(vec4f(pz), kdout[qrow + c], dv[c]);
    }
  }
  let krow = (seq0 + j) * pr.rs + head;
  for (var c = 0u; c < pr.d4; c++) {
    kdk[krow + c] = dk[c];
    kdv[krow + c] = dv[c];
  }
}

// ---- rel_attn_bwd_pos: dpk[r] = Σ_b Σ_{c_ij = r} W_ij q_i,  dpq[r] = Σ_b Σ_{p_ij = r} W_ij k_j -------------
// One invocation per element (plane, r, h·D + d) of dpos; a row with no pairs gets 0.
@group(0) @binding(0) var<storage, read> rq: array<f32>;              // (B, T, H·D) queries
@group(0) @binding(1) var<storage, read> rk: array<f32>;              // (B, T, H·D) keys
@group(0) @binding(2) var<storage, read> rlay: array<u32>;            // index tables and mask
@group(0) @binding(3) var<storage, read> rw: array<f32>;              // (B, H, T, T) W
@group(0) @binding(4) var<storage, read_write> rdpos: array<f32>;     // (2, R, H·D) dpk | dpq
@group(0) @binding(5) var<uniform> pp_u: array<Params, 2>;

@compute @workgroup_size(256)
fn rel_attn_bwd_pos(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_id) lid: vec3u) {
  let pr = pp_u[wid.z];
  let hd = pr.rs * 4u;
  let e = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (e >= 2u * pr.r * hd) { return; }
  let plane = e / (pr.r * hd);
  let rem = e - plane * pr.r * hd;
  let r = rem / hd;
  let col = rem - r * hd;
  let hh = col / (pr.d4 * 4u);
  let t = pr.t;
  let tt = t * t;
  var off = pr.off_coff;
  var pairs = pr.off_cpairs;
  if (plane == 1u) {
    off = pr.off_poff;
    pairs = pr.off_ppairs;
  }
  let p0 = rlay[off + r];
  let p1 = rlay[off + r + 1u];
  var acc = 0.0;
  for (var b = 0u; b < pr.b; b++) {
    let wbase = (b * pr.h + hh) * tt;
    for (var n = p0; n < p1; n++) {
      let ij = rlay[pairs + n];
      let i = ij / t;
      let j = ij - i * t;
      let w = rw[wbase + ij];
      if (plane == 0u) {
        acc = fma(w, rq[(b * t + i) * hd + col], acc);
      } else {
        acc = fma(w, rk[(b * t + j) * hd + col], acc);
      }
    }
  }
  rdpos[e] = acc;
}
