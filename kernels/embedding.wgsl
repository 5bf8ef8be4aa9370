// Embedding lookup (gather) and its backward (deterministic scatter-add), nn.Embedding semantics:
//   out[n, c] = weight[ids[n], c]                  (0 when ids[n] is outside [0, V): never read out of bounds)
//   dweight[v, c] = Σ_{n : ids[n] = v} dy[n, c]    (rows v == pad get no gradient; bad ids are skipped)
//
// Row chunks: a table too large for one storage binding is stored as several row-chunk tensors; `row0`
// is the global id of this chunk's first row and `vocab` its row count, so the chunk serves the ids in
// [row0, row0 + vocab) (local row = id − row0) and `pad` stays a global id. With `keep` = 1 the forward
// leaves out[n, ·] untouched for ids outside the chunk (the first chunk runs with keep = 0 and writes
// zeros there), so one pass over the chunks gives exactly the unchunked lookup. A whole table: row0 = 0.
//
// Contract: `forward`/`forward4` OVERWRITE their output; `backward`/`backward4` ACCUMULATE into dweight
// (dweight[ids[n], c] += dy[n, c]), so the host zeroes dweight first (clearBuffer on a fresh buffer, or
// clear_rows on the rows of the previous step, below). WGSL has no float
// atomics: one invocation owns one column (c, or the vec4 of columns 4c..4c+3) and walks the N tokens in
// order, so there are no races and the sums are bitwise deterministic. Lavapipe ends a shader after 65535
// loop iterations in all, so the host walks more tokens as several launches over consecutive token ranges
// [n0, n) (the same order of the sums).
// The vec4 variants are used when C % 4 == 0. Grids of more than 65535 workgroups are split over x/y (see
// splitGrid): linear index = (wid.y * nwg.x + wid.x) * 64 + lid.x.

struct Params {
  n: u32,    // N tokens (flattened ids)
  cols: u32, // C
  vocab: u32, // V
  pad: i32,  // padding index (global id), or -1 for none
  row0: u32, // global id of this table's first row (0 unless the table is a row chunk)
  keep: u32, // forward: 1 = leave rows of ids outside this table as they are, 0 = write zeros there
  n0: u32,   // backward: first token of this launch (it walks tokens n0 .. n − 1; forward: 0)
}

// forward: ids (N), weight (V, C) -> out (N, C)
@group(0) @binding(0) var<storage, read> f_ids: array<i32>;       // (N)
@group(0) @binding(1) var<storage, read> f_w: array<f32>;         // (V, C)
@group(0) @binding(2) var<storage, read_write> f_out: array<f32>; // (N, C)
@group(0) @binding(3) var<uniform> fp: Params;

// forward4: the same with vec4 columns
@group(0) @binding(1) var<storage, read> f4_w: array<vec4f>;         // (V, C/4)
@group(0) @binding(2) var<storage, read_write> f4_out: array<vec4f>; // (N, C/4)

// backward: ids (N), dy (N, C) -> dweight (V, C) (accumulated)
@group(0) @binding(0) var<storage, read> b_ids: array<i32>;        // (N)
@group(0) @binding(1) var<storage, read> b_dy: array<f32>;         // (N, C)
@group(0) @binding(2) var<storage, read_write> b_dw: array<f32>;   // (V, C)
@group(0) @binding(3) var<uniform> bp: Params;

// backward4: the same with vec4 columns
@group(0) @binding(1) var<storage, read> b4_dy: array<vec4f>;       // (N, C/4)
@group(0) @binding(2) var<storage, read_write> b4_dw: array<vec4f>; // (V, C/4)

fn linear(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * 64u + lid.x;
}

// id in [row0, row0 + vocab) (no overflow: the subtraction only runs when id >= row0 >= 0)
fn valid(id: i32, row0: u32, vocab: u32) -> bool {
  return id >= i32(row0) && u32(id) - row0 < vocab;
}

@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let i = linear(wid, nwg, lid);
  if (i >= fp.n * fp.cols) { return; }
  let n = i / fp.cols;
  let c = i - n * fp.cols;
  let id = f_ids[n];
  var v = 0.0;
  if (valid(id, fp.row0, fp.vocab)) { v = f_w[(u32(id) - fp.row0) * fp.cols + c]; }
  else if (fp.keep == 1u) { return; }
  f_out[i] = v;
}

@compute @workgroup_size(64)
fn forward4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let i = linear(wid, nwg, lid);
  let C4 = fp.cols / 4u;
  if (i >= fp.n * C4) { return; }
  let n = i / C4;
  let c = i - n * C4;
  let id = f_ids[n];
  var v = vec4f(0.0);
  if (valid(id, fp.row0, fp.vocab)) { v = f4_w[(u32(id) - fp.row0) * C4 + c]; }
  else if (fp.keep == 1u) { return; }
  f4_out[i] = v;
}

@compute @workgroup_size(64)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let c = linear(wid, nwg, lid);
  let C = bp.cols;
  if (c >= C) { return; }
  for (var n = bp.n0; n < bp.n; n++) {
    let id = b_ids[n];
    if (valid(id, bp.row0, bp.vocab) && id != bp.pad) {
      let o = (u32(id) - bp.row0) * C + c;
      b_dw[o] = b_dw[o] + b_dy[n * C + c];
    }
  }
}

@compute @workgroup_size(64)
fn backward4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let c = linear(wid, nwg, lid);
  let C4 = bp.cols / 4u;
  if (c >= C4) { return; }
  for (var n = bp.n0; n < bp.n; n++) {
    let id = b_ids[n];
    if (valid(id, bp.row0, bp.vocab) && id != bp.pad) {
      let o = (u32(id) - bp.row0) * C4 + c;
      b4_dw[o] = b4_dw[o] + b4_dy[n * C4 + c];
    }
  }
}

// ---- Row bookkeeping of the row-sparse weight gradient (src/ops/embedding_grad.ts) -------------------------
// The weight gradient of a table stays in one persistent (V, C) buffer that is zero outside the rows some
// backward pass touched since it was last cleared; each backward pass lists the rows it adds (a row list,
// one entry per token: the table-local row, or −1) so that clearing and the clipping norm visit only them.
//   claim_rows:  owner[r] = min { n : ids[n] is row r of this table, ids[n] != pad }   (atomicMin)
//   select_rows: list[n] = r when n == owner[r] (token n is row r's first token in this call) and
//                mark[r] == 0 (r is in no earlier list since the last clear), else −1; that token sets
//                mark[r] = 1 and resets owner[r] to 0xFFFFFFFF. Every entry ≥ 0 is then a distinct row.
//   clear_rows / clear_rows4: dweight[list[e], ·] = 0 and mark[list[e]] = 0 for the entries ≥ 0.
// Contract: `owner` is 0xFFFFFFFF everywhere between calls (claim_rows sets, select_rows restores it);
// `mark` is 1 exactly on the listed rows; select_rows OVERWRITES list; clear_rows OVERWRITES the listed
// rows of dweight with zeros. Only a row's first token reads or writes owner[r] (after claim_rows) and
// mark[r], so there are no races and the lists are deterministic.
//
// UNIFORMS: these entry points read their parameters as `x_u[wid.z]` (element 0: grids have one layer in
// z); the dynamic index stops lavapipe from compiling a new variant for every token count.

struct RowParams {
  n: u32,     // N tokens
  vocab: u32, // rows of this table
  pad: i32,   // padding index (global id) or -1
  row0: u32,  // global id of this table's first row
}

// claim_rows: ids (N) -> owner (V) (atomicMin)
@group(0) @binding(0) var<storage, read> c_ids: array<i32>;                 // (N)
@group(0) @binding(1) var<storage, read_write> c_owner: array<atomic<u32>>; // (V)
@group(0) @binding(2) var<uniform> c_u: array<RowParams, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(64)
fn claim_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_id) lid: vec3u) {
  let cp = c_u[wid.z];
  let n = linear(wid, nwg, lid);
  if (n >= cp.n) { return; }
  let id = c_ids[n];
  if (!valid(id, cp.row0, cp.vocab) || id == cp.pad) { return; }
  atomicMin(&c_owner[u32(id) - cp.row0], n);
}

// select_rows: ids (N) -> list (N), owner (V) (restored), mark (V)
@group(0) @binding(0) var<storage, read> s_ids: array<i32>;                 // (N)
@group(0) @binding(1) var<storage, read_write> s_list: array<i32>;          // (N) row or -1
@group(0) @binding(2) var<storage, read_write> s_owner: array<atomic<u32>>; // (V)
@group(0) @binding(3) var<storage, read_write> s_mark: array<u32>;          // (V)
@group(0) @binding(4) var<uniform> s_u: array<RowParams, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(64)
fn select_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid: vec3u) {
  let sp = s_u[wid.z];
  let n = linear(wid, nwg, lid);
  if (n >= sp.n) { return; }
  let id = s_ids[n];
  var row = -1;
  if (valid(id, sp.row0, sp.vocab) && id != sp.pad) {
    let r = u32(id) - sp.row0;
    // Only row r's first token sees its own index here; a later token of r reads n' or 0xFFFFFFFF.
    if (atomicLoad(&s_owner[r]) == n) {
      atomicStore(&s_owner[r], 0xFFFFFFFFu);
      if (s_mark[r] == 0u) {
        s_mark[r] = 1u;
        row = i32(r);
      }
    }
  }
  s_list[n] = row;
}

// clear_rows: list (E) -> dweight (V, C) listed rows zeroed, mark (V) listed rows zeroed. Workgroups of 256
// take `chunk` entries each and stride over their (entry, column) pairs (few large workgroups: lavapipe
// pays per workgroup).
struct ClearParams {
  n: u32,     // list entries
  cols: u32,  // columns (C, or C/4 for clear_rows4)
  chunk: u32, // entries per workgroup
  pad0: u32,
}

@group(0) @binding(0) var<storage, read> z_list: array<i32>;         // (E)
@group(0) @binding(1) var<storage, read_write> z_dw: array<f32>;     // (V, C)
@group(0) @binding(2) var<storage, read_write> z_mark: array<u32>;   // (V)
@group(0) @binding(3) var<uniform> z_u: array<ClearParams, 2>; // element 0 (see UNIFORMS)

// clear_rows4: the same with vec4 columns
@group(0) @binding(1) var<storage, read_write> z4_dw: array<vec4f>;  // (V, C/4)

@compute @workgroup_size(256)
fn clear_rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let zp = z_u[wid.z];
  let end = min(wid.x * zp.chunk + zp.chunk, zp.n) * zp.cols;
  for (var i = wid.x * zp.chunk * zp.cols + lid.x; i < end; i += 256u) {
    let e = i / zp.cols;
    let c = i - e * zp.cols;
    let r = z_list[e];
    if (r < 0) { continue; }
    z_dw[u32(r) * zp.cols + c] = 0.0;
    if (c == 0u) { z_mark[u32(r)] = 0u; }
  }
}

@compute @workgroup_size(256)
fn clear_rows4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let zp = z_u[wid.z];
  let end = min(wid.x * zp.chunk + zp.chunk, zp.n) * zp.cols;
  for (var i = wid.x * zp.chunk * zp.cols + lid.x; i < end; i += 256u) {
    let e = i / zp.cols;
    let c = i - e * zp.cols;
    let r = z_list[e];
    if (r < 0) { continue; }
    z4_dw[u32(r) * zp.cols + c] = vec4f(0.0);
    if (c == 0u) { z_mark[u32(r)] = 0u; }
  }
}
