// Matmul's subgroup entry point (appended to kernels/matmul.wgsl + GELU's math, and compiled only on devices
// with the `subgroups` feature): mm_sg4 is mm_tex4 with the A operand shared across a subgroup.
//
// Why: on CPU adapters (lavapipe) a subgroup is the 8 SIMD lanes of one workgroup of 8 invocations, and a
// texture fetch costs the same per lane whether or not the lanes read the same texel (~1.1 ns per lane,
// bench/README.md). In mm_tex4 the 8 lanes along N all fetch the same 16 texels of A per K step of 4. Here
// each lane fetches 2 of them and the others come from subgroupBroadcast (a register shuffle), so a K step
// costs 2 + 8 fetches instead of 16 + 12. Same multiply-adds in the same order: bitwise mm_tex4 with NG = 2.
//
// Shapes and contract as mm_tex4 (OVERWRITES C; same TexParams, bindings and epilogue, NG must be 2): each
// invocation computes a 16×8 block of C; the workgroup is ONE row of 8 invocations (16 rows × 64 columns),
// so it must lie in one subgroup: the host uses this entry point only when the adapter's subgroups have at
// least 8 invocations. All 8 reach every broadcast: invocations past nCount compute on a clamped column and
// store nothing; rows past mCount are the same for the whole workgroup, which returns before the loop.
// The params are read as tp4_u[wid.x >> 31] (workgroup_id: uniform, and opaque to the compiler as above).
// Grid: (⌈nCount/64⌉, ⌈mCount/16⌉, batch entries of the launch).

@compute @workgroup_size(8)
fn mm_sg4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32,
          @builtin(subgroup_invocation_id) s: u32) {
  tp = tp4_u[wid.x >> 31u];
  let n = (wid.x * 8u + li) * 8u;
  let m = wid.y * 16u;
  if (m >= tp.mCount) { return; }
  let live = n < tp.nCount;
  let nl = select(0u, n, live); // the column this invocation loads (garbage-free but unused when !live)
  let ya = wid.z * tp.aStep;
  let yb = wid.z * tp.bStep;
  let mq = m / 4u;
  let nq = nl / 4u;
  var c0_0 = vec4f(0.0); var c0_1 = vec4f(0.0);
  var c1_0 = vec4f(0.0); var c1_1 = vec4f(0.0);
  var c2_0 = vec4f(0.0); var c2_1 = vec4f(0.0);
  var c3_0 = vec4f(0.0); var c3_1 = vec4f(0.0);
  var c4_0 = vec4f(0.0); var c4_1 = vec4f(0.0);
  var c5_0 = vec4f(0.0); var c5_1 = vec4f(0.0);
  var c6_0 = vec4f(0.0); var c6_1 = vec4f(0.0);
  var c7_0 = vec4f(0.0); var c7_1 = vec4f(0.0);
  var c8_0 = vec4f(0.0); var c8_1 = vec4f(0.0);
  var c9_0 = vec4f(0.0); var c9_1 = vec4f(0.0);
  var c10_0 = vec4f(0.0); var c10_1 = vec4f(0.0);
  var c11_0 = vec4f(0.0); var c11_1 = vec4f(0.0);
  var c12_0 = vec4f(0.0); var c12_1 = vec4f(0.0);
  var c13_0 = vec4f(0.0); var c13_1 = vec4f(0.0);
  var c14_0 = vec4f(0.0); var c14_1 = vec4f(0.0);
  var c15_0 = vec4f(0.0); var c15_1 = vec4f(0.0);
  var t0: mat4x4f; var t1: mat4x4f;
  for (var k = 0u; k < tp.kq; k++) {
    // Lane s holds texels 2s and 2s + 1 of the 16 this K step needs from A.
    var f0: vec4f; var f1: vec4f;
    if (TRANS_A) {
      // texel 4q + r = (column group mq + q, texture row 4k + r): lane s has q = s / 2, r = 2 (s % 2) + j
      let y = ya + 4u * k + 2u * (s & 1u);
      f0 = textureLoad(ta, vec2u(mq + (s >> 1u), y));
      f1 = textureLoad(ta, vec2u(mq + (s >> 1u), y + 1u));
    } else {
      // texel i = row m + i at K step k
      f0 = textureLoad(ta, vec2u(k, ya + m + 2u * s));
      f1 = textureLoad(ta, vec2u(k, ya + m + 2u * s + 1u));
    }
    let x0 = subgroupBroadcast(f0, 0u);
    let x1 = subgroupBroadcast(f1, 0u);
    let x2 = subgroupBroadcast(f0, 1u);
    let x3 = subgroupBroadcast(f1, 1u);
    let x4 = subgroupBroadcast(f0, 2u);
    let x5 = subgroupBroadcast(f1, 2u);
    let x6 = subgroupBroadcast(f0, 3u);
    let x7 = subgroupBroadcast(f1, 3u);
    let x8 = subgroupBroadcast(f0, 4u);
    let x9 = subgroupBroadcast(f1, 4u);
    let x10 = subgroupBroadcast(f0, 5u);
    let x11 = subgroupBroadcast(f1, 5u);
    let x12 = subgroupBroadcast(f0, 6u);
    let x13 = subgroupBroadcast(f1, 6u);
    let x14 = subgroupBroadcast(f0, 7u);
    let x15 = subgroupBroadcast(f1, 7u);
    var a0: vec4f; var a1: vec4f; var a2: vec4f; var a3: vec4f; var a4: vec4f; var a5: vec4f; var a6: vec4f; var a7: vec4f;
    var a8: vec4f; var a9: vec4f; var a10: vec4f; var a11: vec4f; var a12: vec4f; var a13: vec4f; var a14: vec4f; var a15: vec4f;
    if (TRANS_A) {
      let u0 = transpose(mat4x4f(x0, x1, x2, x3));
      let u1 = transpose(mat4x4f(x4, x5, x6, x7));
      let u2 = transpose(mat4x4f(x8, x9, x10, x11));
      let u3 = transpose(mat4x4f(x12, x13, x14, x15));
      a0 = u0[0]; a1 = u0[1]; a2 = u0[2]; a3 = u0[3];
      a4 = u1[0]; a5 = u1[1]; a6 = u1[2]; a7 = u1[3];
      a8 = u2[0]; a9 = u2[1]; a10 = u2[2]; a11 = u2[3];
      a12 = u3[0]; a13 = u3[1]; a14 = u3[2]; a15 = u3[3];
    } else {
      a0 = x0; a1 = x1; a2 = x2; a3 = x3;
      a4 = x4; a5 = x5; a6 = x6; a7 = x7;
      a8 = x8; a9 = x9; a10 = x10; a11 = x11;
      a12 = x12; a13 = x13; a14 = x14; a15 = x15;
    }
    if (TRANS_B) {
      t0 = transpose(mat4x4f(textureLoad(tb, vec2u(k, yb + nl + 0u)), textureLoad(tb, vec2u(k, yb + nl + 1u)), textureLoad(tb, vec2u(k, yb + nl + 2u)), textureLoad(tb, vec2u(k, yb + nl + 3u))));
      t1 = transpose(mat4x4f(textureLoad(tb, vec2u(k, yb + nl + 4u)), textureLoad(tb, vec2u(k, yb + nl + 5u)), textureLoad(tb, vec2u(k, yb + nl + 6u)), textureLoad(tb, vec2u(k, yb + nl + 7u))));
    } else {
      let y = yb + 4u * k;
      t0 = mat4x4f(textureLoad(tb, vec2u(nq + 0u, y + 0u)), textureLoad(tb, vec2u(nq + 0u, y + 1u)), textureLoad(tb, vec2u(nq + 0u, y + 2u)), textureLoad(tb, vec2u(nq + 0u, y + 3u)));
      t1 = mat4x4f(textureLoad(tb, vec2u(nq + 1u, y + 0u)), textureLoad(tb, vec2u(nq + 1u, y + 1u)), textureLoad(tb, vec2u(nq + 1u, y + 2u)), textureLoad(tb, vec2u(nq + 1u, y + 3u)));
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
  }
  if (!live) { return; }
  let base = tp.cBase + wid.z * tp.cStride;
  let bias0 = bias4(n);
  let bias1 = bias4(n + 4u);
  row4(base, m + 0u, n, c0_0 + bias0, c0_1 + bias1, vec4f(0.0));
  row4(base, m + 1u, n, c1_0 + bias0, c1_1 + bias1, vec4f(0.0));
  row4(base, m + 2u, n, c2_0 + bias0, c2_1 + bias1, vec4f(0.0));
  row4(base, m + 3u, n, c3_0 + bias0, c3_1 + bias1, vec4f(0.0));
  row4(base, m + 4u, n, c4_0 + bias0, c4_1 + bias1, vec4f(0.0));
  row4(base, m + 5u, n, c5_0 + bias0, c5_1 + bias1, vec4f(0.0));
  row4(base, m + 6u, n, c6_0 + bias0, c6_1 + bias1, vec4f(0.0));
  row4(base, m + 7u, n, c7_0 + bias0, c7_1 + bias1, vec4f(0.0));
  row4(base, m + 8u, n, c8_0 + bias0, c8_1 + bias1, vec4f(0.0));
  row4(base, m + 9u, n, c9_0 + bias0, c9_1 + bias1, vec4f(0.0));
  row4(base, m + 10u, n, c10_0 + bias0, c10_1 + bias1, vec4f(0.0));
  row4(base, m + 11u, n, c11_0 + bias0, c11_1 + bias1, vec4f(0.0));
  row4(base, m + 12u, n, c12_0 + bias0, c12_1 + bias1, vec4f(0.0));
  row4(base, m + 13u, n, c13_0 + bias0, c13_1 + bias1, vec4f(0.0));
  row4(base, m + 14u, n, c14_0 + bias0, c14_1 + bias1, vec4f(0.0));
  row4(base, m + 15u, n, c15_0 + bias0, c15_1 + bias1, vec4f(0.0));
}
