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
// The optional bias (N) is added to every row of C once (HAS_BIAS).
//
// Entry points:
//   mm_generic — the general fallback: any shape and layout, reads the stored tensors directly.
//   pack_*     — copy op(X) into a K-packed rgba32float texture / vec4 buffer (zero padded).
//   mm_tex     — the fast path: C from two K-packed textures (see below).
//   mm_vec4    — the same tiling from two K-packed vec4 buffers (for comparison and as a buffer path).

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;

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
@group(0) @binding(4) var<uniform> gp: Params;

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
