// Matrix multiplication: C = op(A) · op(B) (+ bias), batched, with op(X) = X or Xᵀ chosen by the
// pipeline-overridable constants TRANS_A / TRANS_B, so one source serves the three layouts backward needs
// (A·B, A·Bᵀ, Aᵀ·B) and Aᵀ·Bᵀ.
//
// Logical shapes per batch entry: op(A) is (M, K), op(B) is (K, N), C is (M, N). Stored layouts:
//   A: (M, K) row-major, or (K, M) when TRANS_A;   batch entry b starts at b * strideA (0 = shared)
//   B: (K, N) row-major, or (N, K) when TRANS_B;   batch entry b starts at b * strideB (0 = shared)
//   C: (M, N) row-major;                           batch entry b starts at b * M * N
//
// Contract: every entry point OVERWRITES its output. With `reduce` = 1 the batch is summed instead:
// C = Σ_b op(A_b) · op(B_b), one (M, N) output (the weight gradient of a matrix shared across a batch).
// The optional bias (N) is added to every row of C once (mm_generic: HAS_BIAS; mm_tex: the hasBias param).
//
// UNIFORMS: each entry point copies its parameters from `<x>_u[gid.x >> 31]` (always element 0). Lavapipe
// inlines uniform values that feed loop bounds or branches when they are loaded at constant offsets and
// compiles a new shader variant (~2 s for mm_tex) for every new set of values, i.e. every new shape; the
// opaque index keeps one compiled shader for all shapes.
//
// Entry points:
//   mm_generic — the general fallback: any shape and layout, reads the stored tensors directly.
//   pack_tex   — copies a stored operand into an rgba32float texture (zero padded) when a plain copy can't.
//   mm_tex     — the fast path: C from two staged textures, 16×12 register tile per invocation.
//   mm_tex4    — mm_tex with vec4 output stores, used when N % 4 == 0 (mm_tex is the scalar fallback);
//                with act = 1 it also writes GELU(C) (linear + GELU fused; the host appends gelu.wgsl's
//                norm_cdf4 to this source for the texture entry points, so the GELU is gelu.forward's);
//                with act = 2 it writes GELU(C) in place of C (inference: no pre-activation is kept).
//   mm_shared, mm_shared4 — the GPU-class path for real GPUs: 64×64 workgroup tiles staged in workgroup
//                memory, straight from the stored tensors (scalar / vec4 stores of C); see the last section.
// Design notes and measured GFLOP/s: src/ops/matmul.ts; benchmark: bench/matmul_bench.ts --report.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
// mm_tex / mm_tex4: column groups of 4 per invocation (3: a 16×12 tile, 96 columns per workgroup; 2: 16×8, 64).
override NG: u32 = 3u;

struct Params {
  M: u32,        // rows of op(A) and C
  N: u32,        // columns of op(B) and C
  K: u32,        // inner dimension
  batch: u32,    // batch entries
  strideA: u32,  // elements between batch entries of A (0 = shared)
  strideB: u32,  // elements between batch entries of B (0 = shared)
  reduce: u32,   // 1: sum over the batch into one C
  pad: u32,
}

// ---- mm_generic ----------------------------------------------------------------------------------------
// Each invocation computes a 4×4 block of C; an 8×8 workgroup covers 32×32. Loads are clamped into range
// (so they never branch) and only in-range outputs are stored. Grid: (⌈N/32⌉, ⌈M/32⌉, batch or 1).

@group(0) @binding(0) var<storage, read> ga: array<f32>;          // (batch?, M, K) or (batch?, K, M)
@group(0) @binding(1) var<storage, read> gb: array<f32>;          // (batch?, K, N) or (batch?, N, K)
@group(0) @binding(2) var<storage, read> gbias: array<f32>;       // (N) (any buffer when !HAS_BIAS)
@group(0) @binding(3) var<storage, read_write> gc: array<f32>;    // (batch, M, N) or (M, N) if reduce
@group(0) @binding(4) var<uniform> gp_u: array<Params, 2>;        // element 0 (see UNIFORMS)
var<private> gp: Params;

fn g_load_a(base: u32, m: u32, k: u32) -> f32 {
  if (TRANS_A) { return ga[base + k * gp.M + m]; }
  return ga[base + m * gp.K + k];
}

fn g_load_b(base: u32, k: u32, n: u32) -> f32 {
  if (TRANS_B) { return gb[base + n * gp.K + k]; }
  return gb[base + k * gp.N + n];
}

@compute @workgroup_size(8, 8)
fn mm_generic(@builtin(global_invocation_id) gid: vec3u) {
  gp = gp_u[gid.x >> 31u];
  let n0 = gid.x * 4u;
  let m0 = gid.y * 4u;
  if (m0 >= gp.M || n0 >= gp.N) { return; }
  let mLast = gp.M - 1u;
  let nLast = gp.N - 1u;
  let ms = vec4u(m0, min(m0 + 1u, mLast), min(m0 + 2u, mLast), min(m0 + 3u, mLast));
  let ns = vec4u(n0, min(n0 + 1u, nLast), min(n0 + 2u, nLast), min(n0 + 3u, nLast));
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  var b0 = gid.z;
  var b1 = gid.z + 1u;
  if (gp.reduce != 0u) {
    b0 = 0u;
    b1 = gp.batch;
  }
  for (var bi = b0; bi < b1; bi++) {
    let baseA = bi * gp.strideA;
    let baseB = bi * gp.strideB;
    for (var k = 0u; k < gp.K; k++) {
      let av = vec4f(g_load_a(baseA, ms.x, k), g_load_a(baseA, ms.y, k), g_load_a(baseA, ms.z, k),
                     g_load_a(baseA, ms.w, k));
      let bv = vec4f(g_load_b(baseB, k, ns.x), g_load_b(baseB, k, ns.y), g_load_b(baseB, k, ns.z),
                     g_load_b(baseB, k, ns.w));
      acc0 += av.x * bv;
      acc1 += av.y * bv;
      acc2 += av.z * bv;
      acc3 += av.w * bv;
    }
  }
  var bias = vec4f(0.0);
  if (HAS_BIAS) { bias = vec4f(gbias[ns.x], gbias[ns.y], gbias[ns.z], gbias[ns.w]); }
  let rows = array<vec4f, 4>(acc0 + bias, acc1 + bias, acc2 + bias, acc3 + bias);
  let baseC = select(gid.z, 0u, gp.reduce != 0u) * gp.M * gp.N;
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= gp.M) { break; }
    let r = rows[i];
    let o = baseC + m * gp.N + n0;
    for (var j = 0u; j < 4u; j++) {
      if (n0 + j < gp.N) { gc[o + j] = r[j]; }
    }
  }
}

// ---- staged textures, pack_tex and mm_tex (the fast path) ----------------------------------------------
// mm_tex reads A and B from rgba32float storage textures (texture loads are much cheaper than storage
// buffer loads on CPU adapters) holding the STORED layout of each operand, four consecutive elements of a
// stored row per texel (zero past the row end):
//   A (TRANS_A = false): texel (x, y) = A[y, 4x..4x+3], y = m        ("K-packed": texels along K)
//   A (TRANS_A = true):  texel (x, y) = A[y, 4x..4x+3], y = k        (texels hold 4 consecutive m)
//   B (TRANS_B = true):  texel (x, y) = B[y, 4x..4x+3], y = n        (K-packed)
//   B (TRANS_B = false): texel (x, y) = B[y, 4x..4x+3], y = k        (texels hold 4 consecutive n)
// Batch entries stack vertically (aStep / bStep texture rows apart). Rows along K must exist up to a multiple
// of 4 and be zero past K; rows along M or N past the end may hold anything (those outputs are not stored).
// The host fills the textures with copyBufferToTexture when stored rows are 256-byte multiples, otherwise
// (and to concatenate a batch along K for a batch-summed product) with pack_tex. Transposed layouts are
// handled by transposing 4×4 blocks in registers, which is free on SIMD-per-invocation CPU adapters.

struct PackParams {
  rows: u32,       // stored rows to copy per batch entry
  rowsPad: u32,    // texture rows per batch entry (≥ rows; the rest is zero)
  ktot: u32,       // elements per texture row (a stored row, or a batch concatenated along K)
  kin: u32,        // elements of one stored row segment (= ktot unless concatenating)
  kq: u32,         // texels per row: ⌈ktot / 4⌉
  base: u32,       // element offset of the first row of the first batch entry
  zStride: u32,    // elements between stacked batch entries
  segStride: u32,  // elements between concatenated segments
  sR: u32,         // elements between stored rows
  sK: u32,         // elements between stored columns (1)
  zcount: u32,     // stacked batch entries
  pad: u32,
}

@group(0) @binding(0) var<storage, read> px: array<f32>;                  // the stored tensor
@group(0) @binding(1) var pout: texture_storage_2d<rgba32float, write>;   // (kq, zcount·rowsPad)
@group(0) @binding(2) var<uniform> pp_u: array<PackParams, 2>;         // element 0 (see UNIFORMS)
var<private> pp: PackParams;

fn pack_elem(z: u32, r: u32, k: u32) -> f32 {
  if (r >= pp.rows || k >= pp.ktot) { return 0.0; }
  let seg = k / pp.kin;
  return px[pp.base + z * pp.zStride + seg * pp.segStride + r * pp.sR + (k - seg * pp.kin) * pp.sK];
}

// Grid: (⌈kq/16⌉, ⌈zcount·rowsPad/16⌉); one texel per invocation.
@compute @workgroup_size(16, 16)
fn pack_tex(@builtin(global_invocation_id) gid: vec3u) {
  pp = pp_u[gid.x >> 31u];
  let x = gid.x;
  let y = gid.y;
  if (x >= pp.kq || y >= pp.zcount * pp.rowsPad) { return; }
  let z = y / pp.rowsPad;
  let r = y - z * pp.rowsPad;
  let k = 4u * x;
  let v = vec4f(pack_elem(z, r, k), pack_elem(z, r, k + 1u), pack_elem(z, r, k + 2u), pack_elem(z, r, k + 3u));
  textureStore(pout, vec2u(x, y), v);
}

struct TexParams {
  kq: u32,        // K steps of 4 (⌈K/4⌉, or ⌈batch·K/4⌉ for a batch-summed product)
  mCount: u32,    // rows of C computed by this launch
  nCount: u32,    // columns of C computed by this launch
  aStep: u32,     // texture rows per batch entry in ta (0: one A shared by the batch)
  bStep: u32,     // texture rows per batch entry in tb (0: one B shared by the batch)
  ldc: u32,       // N: row stride of C
  cBase: u32,     // element offset of C(first batch entry, first row, first column) of this launch
  cStride: u32,   // elements between batch entries of C
  nOff: u32,      // first column of C (index into the bias) of this launch
  hasBias: u32,   // 1: add bias[nOff + column] (a runtime flag: it only touches the epilogue)
  act: u32,       // mm_tex4: 1 also stores GELU(C) into tg4 (the fused linear + GELU); 2 stores GELU(C) into
                  // C instead of C (tg4 unused); 0 for mm_tex
  pad1: u32,
}

@group(0) @binding(0) var ta: texture_storage_2d<rgba32float, read>;   // staged A (see above)
@group(0) @binding(1) var tb: texture_storage_2d<rgba32float, read>;   // staged B (see above)
@group(0) @binding(2) var<storage, read> tbias: array<f32>;            // (N)
@group(0) @binding(3) var<storage, read_write> tc: array<f32>;         // (batch, M, N)
@group(0) @binding(4) var<uniform> tp_u: array<TexParams, 2>;         // element 0 (see UNIFORMS)
var<private> tp: TexParams;

// c + a·[t] for one row of C: t[q] holds the 4 columns' values at k-component q; 4 fused multiply-adds.
fn mac(c: vec4f, a: vec4f, t: mat4x4f) -> vec4f {
  return fma(vec4f(a.w), t[3], fma(vec4f(a.z), t[2], fma(vec4f(a.y), t[1], fma(vec4f(a.x), t[0], c))));
}

// Stores 4 columns of one row of C, skipping columns past nCount. (Storage-buffer accesses are the slow
// path on CPU adapters: each is a loop over the SIMD lanes, so the epilogue keeps them to one per output.)
fn store4(base: u32, row: u32, col: u32, v: vec4f) {
  let o = base + row * tp.ldc + col;
  for (var j = 0u; j < 4u; j++) {
    if (col + j < tp.nCount) { tc[o + j] = v[j]; }
  }
}

// bias[nOff + col .. + 3] (columns clamped into range; zero when there is no bias).
fn bias4(col: u32) -> vec4f {
  if (tp.hasBias == 0u) { return vec4f(0.0); }
  let last = tp.nCount - 1u;
  let b = tp.nOff;
  return vec4f(tbias[b + min(col, last)], tbias[b + min(col + 1u, last)], tbias[b + min(col + 2u, last)],
               tbias[b + min(col + 3u, last)]);
}

// Accumulators of one invocation's 16×12 tile of C: tacc[3·i + j] = row m + i, columns n + 4j .. n + 4j + 3.
var<private> tacc: array<vec4f, 48>;

// Each invocation computes a 16×12 block of C (register tiling: per K step of 4 it loads 16 texels
// of A and 12 of B and does 768 multiply-adds); an 8×2 workgroup covers 32×96. The tile and
// workgroup were chosen by measurement on lavapipe (8-wide SIMD per 8 invocations): 16×12 beat 8×8, 16×8,
// 16×16, 20×12, 24×8 and 24×12 at BERT-base shapes; 8×2 and 16×1 workgroups beat 4×4/8×8 (lanes along N
// share A's texels). With NG = 2 the third column group compiles away: a 16×8 tile, 32×64 per workgroup,
// which wastes fewer columns when N is not a multiple of 96 (N = 128, 512: 1.1–1.25× faster, measured).
// Grid: (⌈nCount/(32·NG)⌉, ⌈mCount/32⌉, batch entries of the launch).
// tex_tile runs the main loop into tacc (false: the tile lies outside the launch); the entry points differ
// only in how they store it.
fn tex_tile(gid: vec3u) -> bool {
  let n = gid.x * 4u * NG;
  let m = gid.y * 16u;
  if (m >= tp.mCount || n >= tp.nCount) { return false; }
  let ya = gid.z * tp.aStep;
  let yb = gid.z * tp.bStep;
  let mq = m / 4u;
  let nq = n / 4u;
  var c0_0 = vec4f(0.0); var c0_1 = vec4f(0.0); var c0_2 = vec4f(0.0);
  var c1_0 = vec4f(0.0); var c1_1 = vec4f(0.0); var c1_2 = vec4f(0.0);
  var c2_0 = vec4f(0.0); var c2_1 = vec4f(0.0); var c2_2 = vec4f(0.0);
  var c3_0 = vec4f(0.0); var c3_1 = vec4f(0.0); var c3_2 = vec4f(0.0);
  var c4_0 = vec4f(0.0); var c4_1 = vec4f(0.0); var c4_2 = vec4f(0.0);
  var c5_0 = vec4f(0.0); var c5_1 = vec4f(0.0); var c5_2 = vec4f(0.0);
  var c6_0 = vec4f(0.0); var c6_1 = vec4f(0.0); var c6_2 = vec4f(0.0);
  var c7_0 = vec4f(0.0); var c7_1 = vec4f(0.0); var c7_2 = vec4f(0.0);
  var c8_0 = vec4f(0.0); var c8_1 = vec4f(0.0); var c8_2 = vec4f(0.0);
  var c9_0 = vec4f(0.0); var c9_1 = vec4f(0.0); var c9_2 = vec4f(0.0);
  var c10_0 = vec4f(0.0); var c10_1 = vec4f(0.0); var c10_2 = vec4f(0.0);
  var c11_0 = vec4f(0.0); var c11_1 = vec4f(0.0); var c11_2 = vec4f(0.0);
  var c12_0 = vec4f(0.0); var c12_1 = vec4f(0.0); var c12_2 = vec4f(0.0);
  var c13_0 = vec4f(0.0); var c13_1 = vec4f(0.0); var c13_2 = vec4f(0.0);
  var c14_0 = vec4f(0.0); var c14_1 = vec4f(0.0); var c14_2 = vec4f(0.0);
  var c15_0 = vec4f(0.0); var c15_1 = vec4f(0.0); var c15_2 = vec4f(0.0);
  var a0: vec4f; var a1: vec4f; var a2: vec4f; var a3: vec4f; var a4: vec4f; var a5: vec4f; var a6: vec4f; var a7: vec4f; var a8: vec4f; var a9: vec4f; var a10: vec4f; var a11: vec4f; var a12: vec4f; var a13: vec4f; var a14: vec4f; var a15: vec4f;
  var t0: mat4x4f; var t1: mat4x4f; var t2: mat4x4f;
  for (var k = 0u; k < tp.kq; k++) {
    if (TRANS_A) {
      let y = ya + 4u * k;
      let u0 = transpose(mat4x4f(textureLoad(ta, vec2u(mq + 0u, y + 0u)), textureLoad(ta, vec2u(mq + 0u, y + 1u)), textureLoad(ta, vec2u(mq + 0u, y + 2u)), textureLoad(ta, vec2u(mq + 0u, y + 3u))));
      let u1 = transpose(mat4x4f(textureLoad(ta, vec2u(mq + 1u, y + 0u)), textureLoad(ta, vec2u(mq + 1u, y + 1u)), textureLoad(ta, vec2u(mq + 1u, y + 2u)), textureLoad(ta, vec2u(mq + 1u, y + 3u))));
      let u2 = transpose(mat4x4f(textureLoad(ta, vec2u(mq + 2u, y + 0u)), textureLoad(ta, vec2u(mq + 2u, y + 1u)), textureLoad(ta, vec2u(mq + 2u, y + 2u)), textureLoad(ta, vec2u(mq + 2u, y + 3u))));
      let u3 = transpose(mat4x4f(textureLoad(ta, vec2u(mq + 3u, y + 0u)), textureLoad(ta, vec2u(mq + 3u, y + 1u)), textureLoad(ta, vec2u(mq + 3u, y + 2u)), textureLoad(ta, vec2u(mq + 3u, y + 3u))));
      a0 = u0[0]; a1 = u0[1]; a2 = u0[2]; a3 = u0[3];
      a4 = u1[0]; a5 = u1[1]; a6 = u1[2]; a7 = u1[3];
      a8 = u2[0]; a9 = u2[1]; a10 = u2[2]; a11 = u2[3];
      a12 = u3[0]; a13 = u3[1]; a14 = u3[2]; a15 = u3[3];
    } else {
      a0 = textureLoad(ta, vec2u(k, ya + m + 0u));
      a1 = textureLoad(ta, vec2u(k, ya + m + 1u));
      a2 = textureLoad(ta, vec2u(k, ya + m + 2u));
      a3 = textureLoad(ta, vec2u(k, ya + m + 3u));
      a4 = textureLoad(ta, vec2u(k, ya + m + 4u));
      a5 = textureLoad(ta, vec2u(k, ya + m + 5u));
      a6 = textureLoad(ta, vec2u(k, ya + m + 6u));
      a7 = textureLoad(ta, vec2u(k, ya + m + 7u));
      a8 = textureLoad(ta, vec2u(k, ya + m + 8u));
      a9 = textureLoad(ta, vec2u(k, ya + m + 9u));
      a10 = textureLoad(ta, vec2u(k, ya + m + 10u));
      a11 = textureLoad(ta, vec2u(k, ya + m + 11u));
      a12 = textureLoad(ta, vec2u(k, ya + m + 12u));
      a13 = textureLoad(ta, vec2u(k, ya + m + 13u));
      a14 = textureLoad(ta, vec2u(k, ya + m + 14u));
      a15 = textureLoad(ta, vec2u(k, ya + m + 15u));
    }
    if (TRANS_B) {
      t0 = transpose(mat4x4f(textureLoad(tb, vec2u(k, yb + n + 0u)), textureLoad(tb, vec2u(k, yb + n + 1u)), textureLoad(tb, vec2u(k, yb + n + 2u)), textureLoad(tb, vec2u(k, yb + n + 3u))));
      t1 = transpose(mat4x4f(textureLoad(tb, vec2u(k, yb + n + 4u)), textureLoad(tb, vec2u(k, yb + n + 5u)), textureLoad(tb, vec2u(k, yb + n + 6u)), textureLoad(tb, vec2u(k, yb + n + 7u))));
      if (NG > 2u) { t2 = transpose(mat4x4f(textureLoad(tb, vec2u(k, yb + n + 8u)), textureLoad(tb, vec2u(k, yb + n + 9u)), textureLoad(tb, vec2u(k, yb + n + 10u)), textureLoad(tb, vec2u(k, yb + n + 11u)))); }
    } else {
      let y = yb + 4u * k;
      t0 = mat4x4f(textureLoad(tb, vec2u(nq + 0u, y + 0u)), textureLoad(tb, vec2u(nq + 0u, y + 1u)), textureLoad(tb, vec2u(nq + 0u, y + 2u)), textureLoad(tb, vec2u(nq + 0u, y + 3u)));
      t1 = mat4x4f(textureLoad(tb, vec2u(nq + 1u, y + 0u)), textureLoad(tb, vec2u(nq + 1u, y + 1u)), textureLoad(tb, vec2u(nq + 1u, y + 2u)), textureLoad(tb, vec2u(nq + 1u, y + 3u)));
      if (NG > 2u) { t2 = mat4x4f(textureLoad(tb, vec2u(nq + 2u, y + 0u)), textureLoad(tb, vec2u(nq + 2u, y + 1u)), textureLoad(tb, vec2u(nq + 2u, y + 2u)), textureLoad(tb, vec2u(nq + 2u, y + 3u))); }
    }
    c0_0 = mac(c0_0, a0, t0); c0_1 = mac(c0_1, a0, t1);
    c1_0 = mac(c1_0, a1, t0); c1_1 = mac(c1_1, a1, t1);
    c2_0 = mac(c2_0, a2, t0); c2_1 = mac(c2_1, a2, t1);
    c3_0 = mac(c3_0, a3, t0); c3_1 = mac(c3_1, a3, t1);
    c4_0 = mac(c4_0, a4, t0); c4_1 = mac(c4_1, a4, t1);
    c5_0 = mac(c5_0, a5, t0); c5_1 = mac(c5_1, a5, t1);
    c6_0 = mac(c6_0, a6, t0); c6_1 = mac(c6_1, a6, t1);
    c7_0 = mac(c7_0, a7, t0); c7_1 = mac(c7_1, a7, t1);
    c8_0 = mac(c8_0, a8, t0); c8_1 = mac(c8_1, a8, t1);
    c9_0 = mac(c9_0, a9, t0); c9_1 = mac(c9_1, a9, t1);
    c10_0 = mac(c10_0, a10, t0); c10_1 = mac(c10_1, a10, t1);
    c11_0 = mac(c11_0, a11, t0); c11_1 = mac(c11_1, a11, t1);
    c12_0 = mac(c12_0, a12, t0); c12_1 = mac(c12_1, a12, t1);
    c13_0 = mac(c13_0, a13, t0); c13_1 = mac(c13_1, a13, t1);
    c14_0 = mac(c14_0, a14, t0); c14_1 = mac(c14_1, a14, t1);
    c15_0 = mac(c15_0, a15, t0); c15_1 = mac(c15_1, a15, t1);
    if (NG > 2u) {
      c0_2 = mac(c0_2, a0, t2);
      c1_2 = mac(c1_2, a1, t2);
      c2_2 = mac(c2_2, a2, t2);
      c3_2 = mac(c3_2, a3, t2);
      c4_2 = mac(c4_2, a4, t2);
      c5_2 = mac(c5_2, a5, t2);
      c6_2 = mac(c6_2, a6, t2);
      c7_2 = mac(c7_2, a7, t2);
      c8_2 = mac(c8_2, a8, t2);
      c9_2 = mac(c9_2, a9, t2);
      c10_2 = mac(c10_2, a10, t2);
      c11_2 = mac(c11_2, a11, t2);
      c12_2 = mac(c12_2, a12, t2);
      c13_2 = mac(c13_2, a13, t2);
      c14_2 = mac(c14_2, a14, t2);
      c15_2 = mac(c15_2, a15, t2);
    }
  }
  tacc = array<vec4f, 48>(
    c0_0, c0_1, c0_2,
    c1_0, c1_1, c1_2,
    c2_0, c2_1, c2_2,
    c3_0, c3_1, c3_2,
    c4_0, c4_1, c4_2,
    c5_0, c5_1, c5_2,
    c6_0, c6_1, c6_2,
    c7_0, c7_1, c7_2,
    c8_0, c8_1, c8_2,
    c9_0, c9_1, c9_2,
    c10_0, c10_1, c10_2,
    c11_0, c11_1, c11_2,
    c12_0, c12_1, c12_2,
    c13_0, c13_1, c13_2,
    c14_0, c14_1, c14_2,
    c15_0, c15_1, c15_2,
  );
  return true;
}

@compute @workgroup_size(8, 2)
fn mm_tex(@builtin(global_invocation_id) gid: vec3u) {
  tp = tp_u[gid.x >> 31u];
  if (!tex_tile(gid)) { return; }
  let n = gid.x * 4u * NG;
  let m = gid.y * 16u;
  let base = tp.cBase + gid.z * tp.cStride;
  let bias0 = bias4(n);
  let bias1 = bias4(n + 4u);
  let bias2 = bias4(n + 8u);
  if (m + 0u < tp.mCount) { store4(base, m + 0u, n + 0u, tacc[0] + bias0); store4(base, m + 0u, n + 4u, tacc[1] + bias1); if (NG > 2u) { store4(base, m + 0u, n + 8u, tacc[2] + bias2); } }
  if (m + 1u < tp.mCount) { store4(base, m + 1u, n + 0u, tacc[3] + bias0); store4(base, m + 1u, n + 4u, tacc[4] + bias1); if (NG > 2u) { store4(base, m + 1u, n + 8u, tacc[5] + bias2); } }
  if (m + 2u < tp.mCount) { store4(base, m + 2u, n + 0u, tacc[6] + bias0); store4(base, m + 2u, n + 4u, tacc[7] + bias1); if (NG > 2u) { store4(base, m + 2u, n + 8u, tacc[8] + bias2); } }
  if (m + 3u < tp.mCount) { store4(base, m + 3u, n + 0u, tacc[9] + bias0); store4(base, m + 3u, n + 4u, tacc[10] + bias1); if (NG > 2u) { store4(base, m + 3u, n + 8u, tacc[11] + bias2); } }
  if (m + 4u < tp.mCount) { store4(base, m + 4u, n + 0u, tacc[12] + bias0); store4(base, m + 4u, n + 4u, tacc[13] + bias1); if (NG > 2u) { store4(base, m + 4u, n + 8u, tacc[14] + bias2); } }
  if (m + 5u < tp.mCount) { store4(base, m + 5u, n + 0u, tacc[15] + bias0); store4(base, m + 5u, n + 4u, tacc[16] + bias1); if (NG > 2u) { store4(base, m + 5u, n + 8u, tacc[17] + bias2); } }
  if (m + 6u < tp.mCount) { store4(base, m + 6u, n + 0u, tacc[18] + bias0); store4(base, m + 6u, n + 4u, tacc[19] + bias1); if (NG > 2u) { store4(base, m + 6u, n + 8u, tacc[20] + bias2); } }
  if (m + 7u < tp.mCount) { store4(base, m + 7u, n + 0u, tacc[21] + bias0); store4(base, m + 7u, n + 4u, tacc[22] + bias1); if (NG > 2u) { store4(base, m + 7u, n + 8u, tacc[23] + bias2); } }
  if (m + 8u < tp.mCount) { store4(base, m + 8u, n + 0u, tacc[24] + bias0); store4(base, m + 8u, n + 4u, tacc[25] + bias1); if (NG > 2u) { store4(base, m + 8u, n + 8u, tacc[26] + bias2); } }
  if (m + 9u < tp.mCount) { store4(base, m + 9u, n + 0u, tacc[27] + bias0); store4(base, m + 9u, n + 4u, tacc[28] + bias1); if (NG > 2u) { store4(base, m + 9u, n + 8u, tacc[29] + bias2); } }
  if (m + 10u < tp.mCount) { store4(base, m + 10u, n + 0u, tacc[30] + bias0); store4(base, m + 10u, n + 4u, tacc[31] + bias1); if (NG > 2u) { store4(base, m + 10u, n + 8u, tacc[32] + bias2); } }
  if (m + 11u < tp.mCount) { store4(base, m + 11u, n + 0u, tacc[33] + bias0); store4(base, m + 11u, n + 4u, tacc[34] + bias1); if (NG > 2u) { store4(base, m + 11u, n + 8u, tacc[35] + bias2); } }
  if (m + 12u < tp.mCount) { store4(base, m + 12u, n + 0u, tacc[36] + bias0); store4(base, m + 12u, n + 4u, tacc[37] + bias1); if (NG > 2u) { store4(base, m + 12u, n + 8u, tacc[38] + bias2); } }
  if (m + 13u < tp.mCount) { store4(base, m + 13u, n + 0u, tacc[39] + bias0); store4(base, m + 13u, n + 4u, tacc[40] + bias1); if (NG > 2u) { store4(base, m + 13u, n + 8u, tacc[41] + bias2); } }
  if (m + 14u < tp.mCount) { store4(base, m + 14u, n + 0u, tacc[42] + bias0); store4(base, m + 14u, n + 4u, tacc[43] + bias1); if (NG > 2u) { store4(base, m + 14u, n + 8u, tacc[44] + bias2); } }
  if (m + 15u < tp.mCount) { store4(base, m + 15u, n + 0u, tacc[45] + bias0); store4(base, m + 15u, n + 4u, tacc[46] + bias1); if (NG > 2u) { store4(base, m + 15u, n + 8u, tacc[47] + bias2); } }
}

// mm_tex4: mm_tex with vec4 output stores, for ldc, cBase and nCount multiples of 4 (every 4-column group of
// C is then 16-byte aligned and wholly inside or outside the launch).
// With act = 1 it also stores GELU of every stored value into tg4 at the same index (bias + GELU fused
// into the epilogue: the host appends kernels/gelu.wgsl's norm_cdf4, the very GELU of gelu.forward); with
// act = 2 it stores only GELU of the value, into C (tg4 is then unused).
@group(0) @binding(3) var<storage, read_write> tc4: array<vec4f>;   // (batch, M, N / 4)
@group(0) @binding(4) var<storage, read_write> tg4: array<vec4f>;   // (batch, M, N / 4) GELU(C), or unused
@group(0) @binding(5) var<uniform> tp4_u: array<TexParams, 2>;      // element 0 (see UNIFORMS)

fn store_v4(o: u32, v: vec4f) {
  // One copy of the GELU code per store (it is inlined into all 32 stores of a tile), whatever act is.
  var g = v;
  if (tp.act != 0u) { g = v * norm_cdf4(v); }
  tc4[o] = select(v, g, tp.act == 2u);
  if (tp.act == 1u) { tg4[o] = g; }
}

// Stores the 12 columns of one row of the tile, skipping rows past mCount and groups past nCount.
fn row4(base: u32, row: u32, col: u32, v0: vec4f, v1: vec4f, v2: vec4f) {
  if (row >= tp.mCount) { return; }
  let o = (base + row * tp.ldc + col) >> 2u;
  store_v4(o, v0);
  if (col + 4u < tp.nCount) { store_v4(o + 1u, v1); }
  if (NG > 2u && col + 8u < tp.nCount) { store_v4(o + 2u, v2); }
}

@compute @workgroup_size(8, 2)
fn mm_tex4(@builtin(global_invocation_id) gid: vec3u) {
  tp = tp4_u[gid.x >> 31u];
  if (!tex_tile(gid)) { return; }
  let n = gid.x * 4u * NG;
  let m = gid.y * 16u;
  let base = tp.cBase + gid.z * tp.cStride;
  let bias0 = bias4(n);
  let bias1 = bias4(n + 4u);
  let bias2 = bias4(n + 8u);
  row4(base, m + 0u, n, tacc[0] + bias0, tacc[1] + bias1, tacc[2] + bias2);
  row4(base, m + 1u, n, tacc[3] + bias0, tacc[4] + bias1, tacc[5] + bias2);
  row4(base, m + 2u, n, tacc[6] + bias0, tacc[7] + bias1, tacc[8] + bias2);
  row4(base, m + 3u, n, tacc[9] + bias0, tacc[10] + bias1, tacc[11] + bias2);
  row4(base, m + 4u, n, tacc[12] + bias0, tacc[13] + bias1, tacc[14] + bias2);
  row4(base, m + 5u, n, tacc[15] + bias0, tacc[16] + bias1, tacc[17] + bias2);
  row4(base, m + 6u, n, tacc[18] + bias0, tacc[19] + bias1, tacc[20] + bias2);
  row4(base, m + 7u, n, tacc[21] + bias0, tacc[22] + bias1, tacc[23] + bias2);
  row4(base, m + 8u, n, tacc[24] + bias0, tacc[25] + bias1, tacc[26] + bias2);
  row4(base, m + 9u, n, tacc[27] + bias0, tacc[28] + bias1, tacc[29] + bias2);
  row4(base, m + 10u, n, tacc[30] + bias0, tacc[31] + bias1, tacc[32] + bias2);
  row4(base, m + 11u, n, tacc[33] + bias0, tacc[34] + bias1, tacc[35] + bias2);
  row4(base, m + 12u, n, tacc[36] + bias0, tacc[37] + bias1, tacc[38] + bias2);
  row4(base, m + 13u, n, tacc[39] + bias0, tacc[40] + bias1, tacc[41] + bias2);
  row4(base, m + 14u, n, tacc[42] + bias0, tacc[43] + bias1, tacc[44] + bias2);
  row4(base, m + 15u, n, tacc[45] + bias0, tacc[46] + bias1, tacc[47] + bias2);
}

// ---- mm_shared: the GPU-class path (workgroup-shared tiles over storage buffers) -----------------------
// For real GPUs (discrete or integrated); CPU adapters keep the texture path (src/ops/matmul_shared.ts
// chooses from the adapter; setMatmulPath("shared") forces it). C = op(A) · op(B) (+ bias) read straight
// from the stored tensors: all four layouts (TRANS_A / TRANS_B), batched with strides, the batch-summed
// `reduce` mode, any M, N, K. Contract: OVERWRITES C (the bias is added once), like the entry points above.
//
// Tiling: a 16×16 workgroup (256 invocations) computes a 64×64 tile of C; invocation (x, y) holds the 4×4
// register block rows 4y..4y+3, columns 4x..4x+3 of the tile. K advances in tiles of 16: the workgroup
// stages op(A) (64×16) and op(B) (16×64) into var<workgroup> arrays of vec4s (4 KiB each); per 4 steps of k
// an invocation reads 4 vec4s of A and 4 of B and does 64 multiply-adds.
// Staging (each invocation stores whole vec4s of the workgroup arrays, so no two invocations write parts of
// one vec4, and neighbouring invocations read neighbouring memory):
//   A (K, M) [TRANS_A] and B (K, N): one run of 4 consecutive m / n of a stored row per invocation
//     (16 rows of K × 16 runs), kept k-major: shX[16·k + q] = (4q .. 4q + 3 at k); a single 16-byte load
//     when VEC_A / VEC_B (stored row length, batch stride and offset multiples of 4), else 4 scalar loads.
//   A (M, K): one run of 4 consecutive k of a row (64 rows × 4 runs), kept m-major: shA[4·m + kq] =
//     (k = 4kq .. 4kq + 3 at m) — a 16-byte load when VEC_A; the inner loop reads 4 rows and transposes
//     nothing (all invocations of a row read the same vec4: a broadcast).
//   B (N, K) [TRANS_B]: 4 scalar loads of one k from 4 consecutive stored rows (n), stored k-major as one vec4
//     (consecutive invocations read consecutive k).
// Inputs are bound as array<vec4f> (the host binds whole 16-byte multiples); scalar loads read x4[i >> 2][i & 3].
// Bounds: tile elements past M, N or K load as 0 and outputs past (M, N) are not stored. Every invocation
// reaches every barrier (no early return before the epilogue), and the params are read as `sp_u[wid.x >> 31]`
// (workgroup_id: uniform for the uniformity analysis, and opaque to the compiler like the other entry points).
// Entry points: mm_shared4 stores C as vec4s (N % 4 == 0), mm_shared as scalars (any N).
// Not done here: subgroup operations, double-buffered tiles, 8×8 register blocks (128×128 tiles).
// On lavapipe this path is expected to be slow (storage-buffer loads, workgroup memory and barriers are
// costly on CPU adapters): `bench/matmul_bench.ts --report --path=shared --shape=512x768x768` measured
// 7.2–7.4 GFLOP/s in A·B, A·Bᵀ, Aᵀ·B (llvmpipe, 2 cores, 256-bit AVX2) against 41–44 for the texture path in
// the same sitting. Not yet measured on a real GPU (bench/gpu_check.sh runs both paths there).
// Grid: (⌈N/64⌉, ⌈M/64⌉, batch entries of the launch, or 1 when reduce).

override VEC_A: bool = false;
override VEC_B: bool = false;

struct SharedParams {
  M: u32,        // rows of op(A) and C
  N: u32,        // columns of op(B) and C
  K: u32,        // inner dimension
  batch: u32,    // batch entries summed when reduce
  strideA: u32,  // elements between batch entries of A (0 = shared)
  strideB: u32,  // elements between batch entries of B (0 = shared)
  offA: u32,     // element offset of the first batch entry of A
  offB: u32,     // element offset of the first batch entry of B
  reduce: u32,   // 1: sum over the batch into one C
  hasBias: u32,  // 1: add bias[column] (a runtime flag: it only touches the epilogue)
  zOff: u32,     // batch entry of workgroup z = 0 (launches are split at maxComputeWorkgroupsPerDimension)
  pad: u32,
}

@group(0) @binding(0) var<storage, read> sa4: array<vec4f>;         // A: (batch?, M, K) or (batch?, K, M)
@group(0) @binding(1) var<storage, read> sb4: array<vec4f>;         // B: (batch?, K, N) or (batch?, N, K)
@group(0) @binding(2) var<storage, read> sbias: array<f32>;         // (N) (any buffer when !hasBias)
@group(0) @binding(3) var<storage, read_write> sc: array<f32>;      // mm_shared: (batch, M, N) or (M, N)
@group(0) @binding(3) var<storage, read_write> sc4: array<vec4f>;   // mm_shared4: the same as vec4s
@group(0) @binding(4) var<uniform> sp_u: array<SharedParams, 2>;    // element 0 (see UNIFORMS)

var<workgroup> shA: array<vec4f, 256>;   // op(A) tile: k-major (TRANS_A) or m-major (see above)
var<workgroup> shB: array<vec4f, 256>;   // op(B) tile: shB[16·k + q] = op(B)(k0 + k, n0 + 4q .. n0 + 4q + 3)

// The tile's results, for the entry points' epilogues: row 4y + i of the invocation's block in sh_acc<i>.
var<private> sh_acc0: vec4f;
var<private> sh_acc1: vec4f;
var<private> sh_acc2: vec4f;
var<private> sh_acc3: vec4f;

// c + Σ_j a[j]·t[j]: one row of the register block over 4 steps of k (4 fused multiply-adds).
fn sh_mac(c: vec4f, a: vec4f, t: mat4x4f) -> vec4f {
  return fma(vec4f(a.w), t[3], fma(vec4f(a.z), t[2], fma(vec4f(a.y), t[1], fma(vec4f(a.x), t[0], c))));
}

// Element i of A / B (scalar access to the vec4-typed bindings).
fn sh_a1(i: u32) -> f32 { return sa4[i >> 2u][i & 3u]; }
fn sh_b1(i: u32) -> f32 { return sb4[i >> 2u][i & 3u]; }

// Elements (row, col .. col + 3) of the stored (rows, cols) matrix at element `base` of A; zero past its end.
fn sh_run_a(base: u32, row: u32, col: u32, rows: u32, cols: u32) -> vec4f {
  var v = vec4f(0.0);
  if (row >= rows) { return v; }
  let i = base + row * cols + col;
  if (VEC_A) {
    if (col < cols) { v = sa4[i >> 2u]; }
  } else {
    for (var j = 0u; j < 4u; j++) {
      if (col + j < cols) { v[j] = sh_a1(i + j); }
    }
  }
  return v;
}

// The same for B.
fn sh_run_b(base: u32, row: u32, col: u32, rows: u32, cols: u32) -> vec4f {
  var v = vec4f(0.0);
  if (row >= rows) { return v; }
  let i = base + row * cols + col;
  if (VEC_B) {
    if (col < cols) { v = sb4[i >> 2u]; }
  } else {
    for (var j = 0u; j < 4u; j++) {
      if (col + j < cols) { v[j] = sh_b1(i + j); }
    }
  }
  return v;
}

// Elements (row .. row + 3, col) of the stored (rows, cols) matrix at element `base` of B; zero past its end.
fn sh_col_b(base: u32, row: u32, col: u32, rows: u32, cols: u32) -> vec4f {
  var v = vec4f(0.0);
  if (col >= cols) { return v; }
  for (var j = 0u; j < 4u; j++) {
    if (row + j < rows) { v[j] = sh_b1(base + (row + j) * cols + col); }
  }
  return v;
}

// Runs the whole K loop (and the batch loop when reduce) of one workgroup's tile into sh_acc*.
fn sh_tile(p: SharedParams, wid: vec3u, lid: vec3u, li: u32) {
  let m0 = wid.y * 64u;
  let n0 = wid.x * 64u;
  // Staging coordinates: (rq, cq) runs along K (64 rows × 4 runs); (rk, ck) runs along M or N (16 rows
  // × 16 runs); (kk, cn) 4-row columns of B (N, K).
  let rq = li >> 2u;
  let cq = (li & 3u) * 4u;
  let rk = li >> 4u;
  let ck = (li & 15u) * 4u;
  let kk = li & 15u;
  let cn = (li >> 4u) * 4u;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  var b0 = wid.z + p.zOff;
  var b1 = b0 + 1u;
  if (p.reduce != 0u) {
    b0 = 0u;
    b1 = p.batch;
  }
  for (var bi = b0; bi < b1; bi++) {
    let baseA = p.offA + bi * p.strideA;
    let baseB = p.offB + bi * p.strideB;
    for (var k0 = 0u; k0 < p.K; k0 += 16u) {
      if (TRANS_A) {
        shA[li] = sh_run_a(baseA, k0 + rk, m0 + ck, p.K, p.M);        // stored (K, M): k-major
      } else {
        shA[li] = sh_run_a(baseA, m0 + rq, k0 + cq, p.M, p.K);        // stored (M, K): m-major
      }
      if (TRANS_B) {
        shB[16u * kk + (cn >> 2u)] = sh_col_b(baseB, n0 + cn, k0 + kk, p.N, p.K);   // stored (N, K)
      } else {
        shB[li] = sh_run_b(baseB, k0 + rk, n0 + ck, p.K, p.N);        // stored (K, N)
      }
      workgroupBarrier();
      for (var kq = 0u; kq < 4u; kq++) {
        // am[i] = op(A)(row 4y + i, k = 4kq .. 4kq + 3); bm[j] = op(B)(k = 4kq + j, columns 4x .. 4x + 3).
        var am: mat4x4f;
        if (TRANS_A) {
          let o = 64u * kq + lid.y;
          am = transpose(mat4x4f(shA[o], shA[o + 16u], shA[o + 32u], shA[o + 48u]));
        } else {
          let o = 16u * lid.y + kq;
          am = mat4x4f(shA[o], shA[o + 4u], shA[o + 8u], shA[o + 12u]);
        }
        let ob = 64u * kq + lid.x;
        let bm = mat4x4f(shB[ob], shB[ob + 16u], shB[ob + 32u], shB[ob + 48u]);
        acc0 = sh_mac(acc0, am[0], bm);
        acc1 = sh_mac(acc1, am[1], bm);
        acc2 = sh_mac(acc2, am[2], bm);
        acc3 = sh_mac(acc3, am[3], bm);
      }
      workgroupBarrier();
    }
  }
  sh_acc0 = acc0;
  sh_acc1 = acc1;
  sh_acc2 = acc2;
  sh_acc3 = acc3;
}

// bias[col .. col + 3] (clamped into range; zero without a bias).
fn sh_bias(p: SharedParams, col: u32) -> vec4f {
  if (p.hasBias == 0u) { return vec4f(0.0); }
  let last = p.N - 1u;
  return vec4f(sbias[col], sbias[min(col + 1u, last)], sbias[min(col + 2u, last)], sbias[min(col + 3u, last)]);
}

@compute @workgroup_size(16, 16)
fn mm_shared(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let p = sp_u[wid.x >> 31u];
  sh_tile(p, wid, lid, li);
  let m = wid.y * 64u + 4u * lid.y;
  let n = wid.x * 64u + 4u * lid.x;
  if (n >= p.N) { return; }
  let bias = sh_bias(p, n);
  let rows = array<vec4f, 4>(sh_acc0 + bias, sh_acc1 + bias, sh_acc2 + bias, sh_acc3 + bias);
  let base = select(wid.z + p.zOff, 0u, p.reduce != 0u) * p.M * p.N;
  for (var i = 0u; i < 4u; i++) {
    if (m + i >= p.M) { break; }
    let o = base + (m + i) * p.N + n;
    for (var j = 0u; j < 4u; j++) {
      if (n + j < p.N) { sc[o + j] = rows[i][j]; }
    }
  }
}

@compute @workgroup_size(16, 16)
fn mm_shared4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
              @builtin(local_invocation_index) li: u32) {
  let p = sp_u[wid.x >> 31u];
  sh_tile(p, wid, lid, li);
  let m = wid.y * 64u + 4u * lid.y;
  let n = wid.x * 64u + 4u * lid.x;
  if (n >= p.N) { return; }
  let bias = sh_bias(p, n);
  let o = (select(wid.z + p.zOff, 0u, p.reduce != 0u) * p.M * p.N + m * p.N + n) >> 2u;
  let q = p.N >> 2u;   // vec4s per row of C
  if (m < p.M) { sc4[o] = sh_acc0 + bias; }
  if (m + 1u < p.M) { sc4[o + q] = sh_acc1 + bias; }
  if (m + 2u < p.M) { sc4[o + 2u * q] = sh_acc2 + bias; }
  if (m + 3u < p.M) { sc4[o + 3u * q] = sh_acc3 + bias; }
}
