// Disentangled self-attention (HF DeBERTa-v2/v3 DisentangledSelfAttention, eager): the kernels around the
// batched matrix products that src/ops/rel_attention.ts runs with the matmul family.
//   S_ij = cc_ij / scale + (c2p[i, c_ij] / scale + p2c[j, p_ij] / scale),  cc = q·kᵀ,
//   c2p[i, r] = q_i·pk[r],  p2c[j, r] = k_j·pq[r]     (computed only for the window r ∈ [r_lo, r_lo + wn))
//   S_ij = f32_min where mask_i·mask_j = 0  (masked_fill: a padding query attends uniformly to all keys)
//   P = softmax_rows(S),  O = dropout(P)·V
// with c_ij = clamp(bucket(i − j) + span, 0, 2·span − 1) and p_ij = clamp(−bucket(j − i) + span, 0,
// 2·span − 1) from host-built tables; scale = sqrt(D · (1 + #pos_att_types)).
//
// Layouts: activations are (B, T, H·D) (query_proj/key_proj/value_proj outputs); the products use the
// head-major copy (H, B, T, D) = (H·B, T, D) = (H, B·T, D) (split_heads / merge_heads). pos is (R, H·D)
// (R = 2·span rows of key_proj/query_proj applied to the relative embeddings); its window is (H, wn, D)
// (window_heads / unwindow_heads). Score-shaped arrays are (H·B, T, T), row (h·B + b)·T + i; c2p/p2c
// windows are (H·B, T, wn). `lay` is one u32 array built by the host: cidx (T, T) c_ij | pidx (T, T) p_ij
// (at off_p) | mask (B, T) 1 = real token (at off_mask).
//
// Dropout: probability (b, h, i, j) is kept iff rng_uniform(seed, ((b·H + h)·T + i)·T + j) >= p_drop, then
// scaled by keep_scale = 1/(1 − p_drop) (the stream layout of attention.wgsl).
//
// Contract: every entry point OVERWRITES its outputs (rel_softmax_bwd rewrites dpz in place with W).
// Row kernels: workgroup (x, y) = rows [x·WG, (x+1)·WG) of score matrix y = h·B + b.
//
// UNIFORMS: parameters are read as `*_u[wid.z]` (element 0), as in attention.wgsl, so lavapipe keeps one
// compiled shader for every shape.

const F32_MIN: f32 = -3.4028234663852886e38;
override WG: u32 = 64u; // rows per workgroup (row kernels)

struct Params {
  t: u32,           // sequence length T
  h: u32,           // heads H
  b: u32,           // batch B
  d: u32,           // head size D
  r: u32,           // rows of pos: 2·span
  r_lo: u32,        // first relative row of the window
  wn: u32,          // window rows
  n: u32,           // elements (copy kernels)
  scale: f32,       // sqrt(D · (1 + #pos_att_types)), scores are divided by it
  use_dropout: u32, // 1: dropout on the probabilities
  p_drop: f32,      // dropout probability
  keep_scale: f32,  // 1/(1 − p_drop) (0 when p_drop = 1)
  seed: u32,        // dropout stream
  off_p: u32,       // offset of pidx in lay
  off_mask: u32,    // offset of mask in lay
  pad: u32,         // (struct size 64)
}

fn drop_factor(seed: u32, idx: u32, p_drop: f32, keep_scale: f32) -> f32 {
  return select(0.0, keep_scale, rng_uniform(seed, idx) >= p_drop);
}

fn elem(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

// ---- split_heads (B, T, H·D) → (H, B, T, D);  merge_heads (H, B, T, D) → (B, T, H·D) ------------------------
@group(0) @binding(0) var<storage, read> hin: array<f32>;             // (B, T, H·D) or (H, B, T, D)
@group(0) @binding(1) var<storage, read_write> hout: array<f32>;      // (H, B, T, D) or (B, T, H·D)
@group(0) @binding(2) var<uniform> ph_u: array<Params, 2>;

@compute @workgroup_size(256)
fn split_heads(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid: vec3u) {
  let pr = ph_u[wid.z];
  let e = elem(wid, nwg, lid);
  if (e >= pr.n) { return; }
  let bt = pr.b * pr.t;
  let hh = e / (bt * pr.d);
  let rem = e - hh * bt * pr.d;
  let row = rem / pr.d; // b·T + t
  let dd = rem - row * pr.d;
  hout[e] = hin[row * pr.h * pr.d + hh * pr.d + dd];
}

@compute @workgroup_size(256)
fn merge_heads(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid: vec3u) {
  let pr = ph_u[wid.z];
  let e = elem(wid, nwg, lid);
  if (e >= pr.n) { return; }
  let hd = pr.h * pr.d;
  let row = e / hd; // b·T + t
  let col = e - row * hd;
  let hh = col / pr.d;
  hout[e] = hin[(hh * pr.b * pr.t + row) * pr.d + col - hh * pr.d];
}

// ---- window_heads (R, H·D) rows [r_lo, r_lo + wn) → (H, wn, D);  unwindow_heads back, zeros elsewhere ------
@compute @workgroup_size(256)
fn window_heads(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_id) lid: vec3u) {
  let pr = ph_u[wid.z];
  let e = elem(wid, nwg, lid);
  if (e >= pr.n) { return; }
  let hh = e / (pr.wn * pr.d);
  let rem = e - hh * pr.wn * pr.d;
  let w = rem / pr.d;
  let dd = rem - w * pr.d;
  hout[e] = hin[(pr.r_lo + w) * pr.h * pr.d + hh * pr.d + dd];
}

@compute @workgroup_size(256)
fn unwindow_heads(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_id) lid: vec3u) {
  let pr = ph_u[wid.z];
  let e = elem(wid, nwg, lid);
  if (e >= pr.n) { return; }
  let hd = pr.h * pr.d;
  let r = e / hd;
  let col = e - r * hd;
  let hh = col / pr.d;
  var v = 0.0;
  if (r >= pr.r_lo && r < pr.r_lo + pr.wn) { v = hin[(hh * pr.wn + r - pr.r_lo) * pr.d + col - hh * pr.d]; }
  hout[e] = v;
}

// ---- rel_softmax_fwd: P = softmax(S) (before dropout) and PZ = dropout(P) ----------------------------------
@group(0) @binding(0) var<storage, read> fcc: array<f32>;             // (H·B, T, T) q·kᵀ
@group(0) @binding(1) var<storage, read> fc2p: array<f32>;            // (H·B, T, wn) q·pkᵀ window
@group(0) @binding(2) var<storage, read> fp2c: array<f32>;            // (H·B, T, wn) k·pqᵀ window
@group(0) @binding(3) var<storage, read> flay: array<u32>;            // index tables and mask
@group(0) @binding(4) var<storage, read_write> fp: array<f32>;        // (H·B, T, T) P
@group(0) @binding(5) var<storage, read_write> fpz: array<f32>;       // (H·B, T, T) P·Z (use_dropout = 1)
@group(0) @binding(6) var<uniform> pf_u: array<Params, 2>;

@compute @workgroup_size(WG)
fn rel_softmax_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pr = pf_u[wid.z];
  let t = pr.t;
  let i = wid.x * WG + lid.x;
  if (i >= t) { return; }
  let hb = wid.y;
  let hh = hb / pr.b;
  let b = hb - hh * pr.b;
  let srow = (hb * t + i) * t;
  let crow = (hb * t + i) * pr.wn;
  let qmask = flay[pr.off_mask + b * t + i];
  var m = F32_MIN;
  for (var j = 0u; j < t; j++) {
    let c2p = fc2p[crow + flay[i * t + j] - pr.r_lo];
    let p2c = fp2c[(hb * t + j) * pr.wn + flay[pr.off_p + i * t + j] - pr.r_lo];
    var s = fcc[srow + j] / pr.scale + (c2p / pr.scale + p2c / pr.scale);
    if (qmask * flay[pr.off_mask + b * t + j] == 0u) { s = F32_MIN; }
    fp[srow + j] = s;
    m = max(m, s);
  }
  var l = 0.0;
  for (var j = 0u; j < t; j++) {
    let e = exp(fp[srow + j] - m);
    fp[srow + j] = e;
    l += e;
  }
  let rng_row = ((b * pr.h + hh) * t + i) * t;
  for (var j = 0u; j < t; j++) {
    let p = fp[srow + j] / l;
    fp[srow + j] = p;
    if (pr.use_dropout != 0u) { fpz[srow + j] = p * drop_factor(pr.seed, rng_row + j, pr.p_drop, pr.keep_scale); }
  }
}

// ---- rel_softmax_bwd: W = dL/dS / scale (0 where masked) in place of dPZ; dc2p[i, w] = Σ_{c_ij = r_lo+w} W_ij
// dL/dS_ij = P_ij · (Z_ij · dPZ_ij − Δ_i) with Δ_i = Σ_j P_ij Z_ij dPZ_ij.
@group(0) @binding(0) var<storage, read> sp: array<f32>;              // (H·B, T, T) P
@group(0) @binding(1) var<storage, read> slay: array<u32>;            // index tables and mask
@group(0) @binding(2) var<storage, read_write> sw: array<f32>;        // (H·B, T, T) dL/dPZ in, W out
@group(0) @binding(3) var<storage, read_write> sdc2p: array<f32>;     // (H·B, T, wn)
@group(0) @binding(4) var<uniform> ps_u: array<Params, 2>;

@compute @workgroup_size(WG)
fn rel_softmax_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pr = ps_u[wid.z];
  let t = pr.t;
  let i = wid.x * WG + lid.x;
  if (i >= t) { return; }
  let hb = wid.y;
  let hh = hb / pr.b;
  let b = hb - hh * pr.b;
  let srow = (hb * t + i) * t;
  let rng_row = ((b * pr.h + hh) * t + i) * t;
  var delta = 0.0;
  for (var j = 0u; j < t; j++) {
    var g = sw[srow + j];
    if (pr.use_dropout != 0u) { g *= drop_factor(pr.seed, rng_row + j, pr.p_drop, pr.keep_scale); }
    sw[srow + j] = g;
    delta += sp[srow + j] * g;
  }
  let crow = (hb * t + i) * pr.wn;
  for (var w = 0u; w < pr.wn; w++) { sdc2p[crow + w] = 0.0; }
  let qmask = slay[pr.off_mask + b * t + i];
  for (var j = 0u; j < t; j++) {
    let keep = qmask * slay[pr.off_mask + b * t + j] != 0u;
    let w = select(0.0, sp[srow + j] * (sw[srow + j] - delta) / pr.scale, keep);
    sw[srow + j] = w;
    let at = crow + slay[i * t + j] - pr.r_lo;
    sdc2p[at] += w;
  }
}

// ---- rel_p2c_bwd: dp2c[j, w] = Σ_{i: p_ij = r_lo + w} W_ij, one invocation per key row j ---------------------
@group(0) @binding(0) var<storage, read> kw: array<f32>;              // (H·B, T, T) W
@group(0) @binding(1) var<storage, read> klay: array<u32>;            // index tables and mask
@group(0) @binding(2) var<storage, read_write> kdp2c: array<f32>;     // (H·B, T, wn)
@group(0) @binding(3) var<uniform> pk_u: array<Params, 2>;

@compute @workgroup_size(WG)
fn rel_p2c_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pr = pk_u[wid.z];
  let t = pr.t;
  let j = wid.x * WG + lid.x;
  if (j >= t) { return; }
  let hb = wid.y;
  let krow = (hb * t + j) * pr.wn;
  for (var w = 0u; w < pr.wn; w++) { kdp2c[krow + w] = 0.0; }
  for (var i = 0u; i < t; i++) {
    let at = krow + klay[pr.off_p + i * t + j] - pr.r_lo;
    kdp2c[at] += kw[(hb * t + i) * t + j];
  }
}
