/**
 * Matrix multiplication: batched `matmul` with transposed layouts and a fused bias, `linear` (PyTorch's
 * nn.Linear), `linearGelu` (linear + exact GELU, the GELU in the product's epilogue where it can be), and
 * their backward rules. Kernels: `kernels/matmul.wgsl` (+ GELU's math from `kernels/gelu.wgsl`, see
 * `matmul_source.ts`).
 *
 * Fast path ("texture"): A and B are staged into rgba32float storage textures in their stored layouts —
 * by copyBufferToTexture when stored rows are 256-byte multiples (all BERT shapes), else by the pack_tex
 * kernel — and mm_tex computes a 16×12 register tile per invocation in 8×2 workgroups (16×8 where 96-column
 * workgroups would waste columns: {@link textureTileColumns}), handling Aᵀ/Bᵀ by 4×4 in-register
 * transposes. When N % 4 == 0 the mm_tex4 entry point stores C as vec4s (one 16-byte store per 4 columns
 * instead of 4 scalar stores) and can also store GELU(C); other N use mm_tex's scalar stores. Texture sides
 * over the device limit are chunked (batch, rows, columns); a K too long is split into ranges whose products
 * are summed. Staging textures are cached per size (bounded LRU), with odd widths and no power-of-two sides
 * (see `_texture`). Real GPUs take the workgroup-tiled "shared" path instead (`matmul_shared.ts`).
 *
 * Subgroups (`kernels/matmul_subgroup.wgsl`, mm_sg4): where the device runs subgroup builtins with at least
 * 8 invocations per subgroup (lavapipe: 8, the SIMD width), vec4 f32 products run mm_sg4 instead of mm_tex4:
 * 16×8 tiles in workgroups of one 8-invocation row, each lane fetching 2 of the 16 A texels of a K step and
 * taking the rest by subgroupBroadcast (texture fetches cost per lane on lavapipe, shared or not). Bitwise
 * mm_tex4's results. `bench/matmul_bench.ts --report --iters=16 --subgroups=both`, same sitting (AVX2 EPYC,
 * 2 cores): 62–69 GFLOP/s against 40–43 at the three BERT-base shapes, all layouts; 30–39 against 27–34 at
 * the attention-sized batched products. {@link setTextureSubgroups} turns it off (tests, A/B benches).
 *
 * Measured on lavapipe (llvmpipe, 2 cores, AVX-512 EPYC), `deno run -A bench/matmul_bench.ts --report`
 * at 512×768·768×768, 512×768·768×3072, 512×3072·3072×768 in A·B, A·Bᵀ, Aᵀ·B, staging included:
 * 52–68 GFLOP/s (kernel alone up to ~68; FMA-only ceiling ~110); with pack_tex staging instead of copies
 * 40–53; the generic buffer kernel 2.5–4.6; the same tiling over vec4 storage buffers instead of textures
 * 15–22. Batched attention-sized products (96 × 128×64·64×128 and similar, K ≤ 128) reach 19–25: with
 * few K steps the per-invocation overhead and the output stores dominate. Vec4 stores (mm_tex4) raised
 * those from 20–23 to 23–25 and left the BERT-base shapes unchanged within noise (K ≥ 768: the epilogue is
 * a small share). Note the benchmark's default of 4 products per sync includes ~2.8 ms of sync latency per
 * product; with --iters=16 the same kernels measure 59–73 at the BERT-base shapes.
 * @module
 */
import { MATMUL_WGSL as src, matmulSubgroupWgsl } from "./matmul_source.ts";
import { gpu } from "../engine/gpu.ts";
import { needsGrad, record } from "../engine/tape.ts";
import { noteFallback } from "../engine/dispatch_trace.ts";
import { Tensor } from "../engine/tensor.ts";
import { addInPlace, sumRows } from "./elementwise.ts";
import { geluBackward, geluForward } from "./gelu.ts";
import { autoUsesShared, gemmShared, type SharedGemm } from "./matmul_shared.ts";
import { autocastEnabled, roundToF16 } from "./autocast.ts";

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** `a` is stored as (..., K, M) and used transposed. */
  transA?: boolean;
  /** `b` is stored as (..., N, K) and used transposed. */
  transB?: boolean;
  /** A bias (N) added to every row of the result. */
  bias?: Tensor;
}

/**
 * One GEMM launch: out = op(a) · op(b) (+ bias) per batch entry, or summed over the batch (`reduce`); the
 * operand fields are the shared path's {@link SharedGemm}.
 */
interface _Gemm extends SharedGemm {
  outShape: number[];
  label: string;
  /** Texture path K chunking: this launch covers K range [k0, k0 + K) of rows of length fullK. */
  k0?: number;
  fullK?: number;
  /** Autocast (src/ops/autocast.ts): the operands are read rounded to fp16 (fp32 accumulation). */
  f16?: boolean;
  /**
   * Also write GELU(out) into this tensor (out's shape) when the path can fuse it (mm_tex4 in one K range);
   * `_gemm` reports whether it did in `_actWritten`.
   */
  act?: Tensor | null;
  /**
   * Write GELU(out) into out itself instead of the pre-activation, when the path can fuse it (as for
   * `act`; `_actWritten` reports it). For products nobody differentiates: no pre-activation is stored.
   */
  actOnly?: boolean;
}

/**
 * Which GEMM implementation {@link matmul} and {@link linear} use; see {@link setMatmulPath}. `"auto"` is
 * `"shared"` on a real GPU and, on a CPU (fallback) adapter, `"texture"` with the generic fallback for
 * shapes textures cannot hold.
 */
export type MatmulPath = "auto" | "texture" | "texture-pack" | "generic" | "shared";

let _path: MatmulPath = "auto";
let _texLimit = 0;

/**
 * Selects the GEMM implementation (for benchmarks and tests): `"texture"` stages A and B into rgba32float
 * storage textures (copyBufferToTexture when rows are 256-byte multiples, else a pack kernel) and runs
 * the register-tiled kernel; `"texture-pack"` always uses the pack kernel; `"generic"` always uses the
 * direct buffer kernel; `"shared"` uses the GPU-class workgroup-tiled kernel (src/ops/matmul_shared.ts),
 * which `"auto"` picks on adapters that are not CPU adapters. `textureLimit` overrides the texture side
 * limit (default: the device's maxTextureDimension2D) and `textureBytes` the staging-texture cache budget
 * (default 256 MiB), so tests can exercise chunking and eviction.
 */
export function setMatmulPath(path: MatmulPath, textureLimit = 0, textureBytes = 0): void {
  _path = path;
  _texLimit = textureLimit;
  _maxTextureBytes = textureBytes || _DEFAULT_TEXTURE_BYTES;
}

let _subgroups: "auto" | "off" = "auto";
let _sgCode: { prefix: string; code: string } | null = null;

/**
 * Whether the texture path may use its subgroup entry point mm_sg4 (`"auto"`, the default: where the device
 * runs subgroup builtins and its subgroups have at least 8 invocations) or never (`"off"`: mm_tex4 only;
 * for tests and A/B benchmarks). Results are bitwise the same either way.
 */
export function setTextureSubgroups(mode: "auto" | "off"): void {
  _subgroups = mode;
}

/** Whether vec4 texture-path products (f32, N % 4 == 0) run mm_sg4 on this device now. */
export function textureUsesSubgroups(): boolean {
  if (_subgroups === "off") return false;
  const g = gpu();
  return g.subgroupWgsl !== null && (g.adapterInfo.subgroupMinSize ?? 0) >= 8;
}

function _subgroupSource(prefix: string): string {
  if (_sgCode?.prefix !== prefix) _sgCode = { prefix, code: matmulSubgroupWgsl(prefix) };
  return _sgCode.code;
}

/** The current {@link setMatmulPath} settings (so tests can restore them). */
export function matmulPathSettings(): { path: MatmulPath; textureLimit: number; textureBytes: number } {
  return { path: _path, textureLimit: _texLimit, textureBytes: _maxTextureBytes };
}

/** Runs a GEMM on the GPU and returns its (unrecorded) output. */
/** Whether the last {@link _gemm} wrote GELU(out) into its `act` tensor, or into out (`actOnly`). */
let _actWritten = false;
/** A 16-byte stand-in bound as mm_tex4's GELU output when there is none (a plain buffer: not a tensor). */
let _noAct: GPUBuffer | null = null;

function _gemm(g: _Gemm): Tensor {
  _actWritten = false;
  const out = Tensor.empty(g.outShape, "f32", g.label);
  if (out.size === 0) return out;
  if (_path === "generic") _gemmGeneric(g, out);
  else if (_path === "shared" || (_path === "auto" && autoUsesShared())) {
    _withF16Operands(g, (h) => gemmShared(h, out));
  } else if (!_gemmTexAll(g, out)) {
    if (g.K > 0) noteFallback("matmul", `${g.label}: ${g.M}×${g.N}×${g.K} does not fit the texture path`);
    _gemmGeneric(g, out);
  }
  return out;
}

// ---- texture fast path ----------------------------------------------------------------------------------

/** Register tile of one mm_tex invocation and the 8×2 workgroup it runs in (see kernels/matmul.wgsl). */
const _TM = 16, _WG_M = 2 * _TM, _WG_N = 8 * 12;

/**
 * Columns of C per mm_tex invocation for a product N columns wide (the kernel's NG override is this / 4):
 * 12 (16×12 tiles, 96 columns per workgroup) where it wastes nothing; 8 (16×8, 64 columns) when the
 * columns padded to 96 would cost more than ~10% over those padded to 64 (N = 128: 192 vs 128; N = 512:
 * 576 vs 512). Measured on lavapipe: 1024×128·128×128 17.7 → 19.9 GFLOP/s, 1024×128·128×512 27.7 → 34.2;
 * N = 768 and 3072 keep 16×12 (16×8 measured 0.9–1.0× there).
 */
export function textureTileColumns(N: number): 8 | 12 {
  return _roundUp(N, 64) * 1.1 < _roundUp(N, 96) ? 8 : 12;
}

const _textures = new Map<string, GPUTexture>();
/** Bytes of cached staging textures kept before the least recently used are destroyed. */
const _DEFAULT_TEXTURE_BYTES = 256 * 2 ** 20;
let _maxTextureBytes = _DEFAULT_TEXTURE_BYTES;
let _textureBytes = 0;
/** Textures staged for the launch being encoded: never evicted before that launch is encoded. */
const _pinned = new Set<GPUTexture>();

/**
 * A staging texture of exactly w×h texels for a role ("A" or "B"). Textures are cached by role and size
 * and reused by every product of that shape: staging and reads are ordered within the command stream, so a
 * later product may overwrite one. Least recently used textures beyond a byte budget are destroyed after a
 * flush (so no encoded work still refers to them).
 */
function _texture(role: string, width: number, height: number, f16 = false): GPUTexture {
  // An odd width keeps the row pitch off multiples of the cache way size: with a pitch of 12 KiB the
  // kernel's K-packed reads ran at 43 GFLOP/s, with 12 KiB + 16 B at 60. lavapipe also compiles a separate
  // shader variant (~2 s) per power-of-two-ness of each texture side, so sides are never powers of two.
  const w = _nonPow2(width | 1), h = _nonPow2(height);
  const format: GPUTextureFormat = f16 ? "rgba16float" : "rgba32float";
  const key = `${role}:${format}:${w}x${h}`;
  let t = _textures.get(key);
  if (t) {
    _textures.delete(key);
    _textures.set(key, t);
    _pinned.add(t);
    return t;
  }
  const bytes = w * h * (f16 ? 8 : 16);
  if (_textureBytes + bytes > _maxTextureBytes && _textures.size > 0) {
    gpu().flush();
    for (const [k, old] of _textures) {
      if (_textureBytes + bytes <= _maxTextureBytes) break;
      if (_pinned.has(old)) continue;
      _textures.delete(k);
      _textureBytes -= old.width * old.height * (old.format === "rgba16float" ? 8 : 16);
      gpu().destroy(old);
    }
  }
  _textureBytes += bytes;
  t = gpu().device.createTexture({
    size: [w, h],
    format,
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
    label: `matmul.stage${role}`,
  });
  _textures.set(key, t);
  _pinned.add(t);
  return t;
}

function _nonPow2(x: number): number {
  while ((x & (x - 1)) === 0) x++;
  return x;
}

function _roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/** Parameters of pack_tex (see PackParams in kernels/matmul.wgsl). */
interface _PackSpec {
  rows: number;
  rowsPad: number;
  ktot: number;
  kin: number;
  base: number;
  zStride: number;
  segStride: number;
  sR: number;
  zcount: number;
}

function _pack(x: Tensor, tex: GPUTexture, p: _PackSpec): void {
  const kq = Math.ceil(p.ktot / 4);
  gpu().dispatch({
    label: tex.format === "rgba16float" ? "matmul.pack_tex_f16" : "matmul.pack_tex",
    code: tex.format === "rgba16float" ? _srcF16() : src,
    entryPoint: "pack_tex",
    inputs: [x.res],
    outputs: [{ texture: tex }],
    params: [p.rows, p.rowsPad, p.ktot, p.kin, kq, p.base, p.zStride, p.segStride, p.sR, 1, p.zcount, 0],
    workgroups: [Math.ceil(kq / 16), Math.ceil((p.zcount * p.rowsPad) / 16)],
  });
}

/** Copies `rows` stored rows of `cols` floats (a 256-byte multiple) at element `offset` to texel (x, y). */
function _copy(x: Tensor, tex: GPUTexture, offset: number, cols: number, rows: number, width: number, at: [
  number,
  number,
]): void {
  gpu().encoderForCopy().copyBufferToTexture(
    { buffer: x.buffer, offset: offset * 4, bytesPerRow: cols * 4, rowsPerImage: rows },
    { texture: tex, origin: [at[0], at[1]] },
    [width, rows],
  );
}

/** One operand of a texture-path GEMM, in its stored layout. */
interface _Operand {
  x: Tensor;
  role: "A" | "B";
  /** Stored rows are M or N (K runs along texture rows); otherwise stored rows are K. */
  kPacked: boolean;
  /** Stored row length (K when kPacked, else M or N). */
  cols: number;
  stride: number;
  /** Element offset of the first batch entry. */
  off: number;
  shared: boolean;
}

/**
 * Stages the slice [lo, lo + cnt) of an operand's M or N dimension and the K range [k0, k0 + K) for batch
 * entries [z0, z0 + zc) (or the whole batch concatenated along K when `reduce`) into its texture; returns
 * the texture and the texture rows per batch entry (0 when shared or reduced).
 */
function _stage(
  o: _Operand,
  g: _Gemm,
  z0: number,
  zc: number,
  lo: number,
  cnt: number,
  pack: boolean,
): [GPUTexture, number] {
  const { K, batch, reduce } = g;
  const k0 = g.k0 ?? 0;
  const zn = o.shared || reduce ? 1 : zc;
  const zBase = o.off + (reduce || o.shared ? 0 : z0 * o.stride);
  const aligned = !pack && !g.f16 && o.cols % 64 === 0; // copies cannot convert to fp16: pack
  if (o.kPacked) {
    // Texture rows = the cnt stored rows [lo, lo + cnt) of each batch entry; texels along K.
    const ktot = reduce ? batch * K : K;
    const tex = _texture(o.role, Math.ceil(ktot / 4), zn * cnt, g.f16);
    const rowBase = zBase + lo * o.cols + k0;
    if (aligned) {
      // K (a multiple of 4 here: o.cols and every chunk of K are multiples of 64, or K is the whole row).
      if (reduce) {
        for (let b = 0; b < batch; b++) {
          _copy(o.x, tex, rowBase + b * o.stride, o.cols, cnt, K / 4, [(b * K) / 4, 0]);
        }
      } else if (lo === 0 && cnt * o.cols === o.stride && K === o.cols) {
        _copy(o.x, tex, zBase, o.cols, zn * cnt, K / 4, [0, 0]);
      } else {
        for (let i = 0; i < zn; i++) {
          _copy(o.x, tex, rowBase + i * o.stride, o.cols, cnt, K / 4, [0, i * cnt]);
        }
      }
    } else {
      _pack(o.x, tex, {
        rows: cnt,
        rowsPad: cnt,
        ktot,
        kin: K,
        base: rowBase,
        zStride: o.stride,
        segStride: reduce ? o.stride : 0,
        sR: o.cols,
        zcount: zn,
      });
    }
    return [tex, o.shared || reduce ? 0 : cnt];
  }
  // Texture rows = K (the whole batch's K rows when reduced, which are contiguous); texels along M or N.
  const krows = reduce ? batch * K : K;
  const kPad = _roundUp(krows, 4);
  const width = Math.ceil(cnt / 4);
  const tex = _texture(o.role, width, zn * kPad, g.f16);
  const base = zBase + k0 * o.cols + lo;
  if (aligned && krows % 4 === 0) {
    if (lo === 0 && cnt === o.cols && krows * o.cols === o.stride) {
      _copy(o.x, tex, base, o.cols, zn * krows, width, [0, 0]);
    } else {
      for (let i = 0; i < zn; i++) _copy(o.x, tex, base + i * o.stride, o.cols, krows, width, [0, i * kPad]);
    }
  } else {
    _pack(o.x, tex, {
      rows: krows,
      rowsPad: kPad,
      ktot: cnt,
      kin: cnt,
      base,
      zStride: o.stride,
      segStride: 0,
      sR: o.cols,
      zcount: zn,
    });
  }
  return [tex, o.shared || reduce ? 0 : kPad];
}

/**
 * The texture path for any shape: splits products whose K does not fit a texture into several products
 * summed into `out` (K ranges; for a batch-summed product, groups of batch entries).
 */
function _gemmTexAll(g: _Gemm, out: Tensor): boolean {
  const L = _texLimit || gpu().limits.maxTextureDimension2D;
  if (L < _WG_N || g.K === 0) return false;
  // Longest K range (a multiple of 64) both staged layouts can hold: a K-packed texture row holds 4L values,
  // K rows hold L.
  const cap = Math.floor((g.transA || !g.transB ? L : 4 * L) / 64) * 64;
  if (cap === 0) return false;
  const ktot = g.reduce ? g.batch * g.K : g.K;
  if (ktot <= cap) return _gemmTex(g, out);
  g = { ...g, act: null, actOnly: false }; // summed K ranges: GELU needs the whole sum (the caller applies it)
  const parts: _Gemm[] = [];
  if (g.reduce && g.K <= cap) {
    const group = Math.floor(cap / g.K);
    for (let b0 = 0; b0 < g.batch; b0 += group) {
      const bg = Math.min(group, g.batch - b0);
      parts.push({ ...g, batch: bg, offA: b0 * g.strideA, offB: b0 * g.strideB });
    }
  } else {
    const entries = g.reduce ? g.batch : 1;
    for (let b = 0; b < entries; b++) {
      for (let k0 = 0; k0 < g.K; k0 += cap) {
        const sub: _Gemm = { ...g, K: Math.min(cap, g.K - k0), k0, fullK: g.K };
        if (g.reduce) {
          Object.assign(sub, { reduce: false, batch: 1, offA: b * g.strideA, offB: b * g.strideB });
        }
        parts.push(sub);
      }
    }
  }
  // The first part writes `out` (with the bias); the others are added in.
  parts.forEach((p, i) => {
    const dst = i === 0 ? out : Tensor.empty(out.shape, "f32", "matmul.part");
    if (!_gemmTex({ ...p, bias: i === 0 ? g.bias : null }, dst)) {
      throw new Error("matmul: internal error: a K chunk does not fit a texture");
    }
    if (dst !== out) {
      addInPlace(out, dst);
      dst.dispose();
    }
  });
  return true;
}

/**
 * One texture-path launch set: stages A and B (chunked over batch, rows and columns when a texture side
 * would exceed the limit) and runs mm_tex. Returns false when textures cannot hold the K range.
 */
function _gemmTex(g: _Gemm, out: Tensor): boolean {
  const L = _texLimit || gpu().limits.maxTextureDimension2D;
  const { M, N, K, batch, reduce } = g;
  const ktot = reduce ? batch * K : K;
  const kq = Math.ceil(ktot / 4);
  const kPad = _roundUp(ktot, 4);
  const rowsAlongK = g.transA || !g.transB;
  if (ktot === 0 || kq > L || (rowsAlongK && kPad > L) || L < _WG_N) return false;
  const pack = _path === "texture-pack";
  const fullK = g.fullK ?? K;
  const A: _Operand = {
    x: g.a,
    role: "A",
    kPacked: !g.transA,
    cols: g.transA ? M : fullK,
    stride: g.strideA,
    off: g.offA ?? 0,
    shared: !reduce && g.strideA === 0,
  };
  const B: _Operand = {
    x: g.b,
    role: "B",
    kPacked: g.transB,
    cols: g.transB ? fullK : N,
    stride: g.strideB,
    off: g.offB ?? 0,
    shared: !reduce && g.strideB === 0,
  };
  const Z = reduce ? 1 : batch;
  // Vec4 output stores when every row of C starts 16-byte aligned (N % 4 == 0; then so are all chunk
  // offsets and column counts, chunks being multiples of the workgroup's 64 or 96 columns); otherwise scalar stores.
  const vec4 = N % 4 === 0;
  // mm_sg4: mm_tex4 with A shared across the subgroup (16×8 tiles in one 8-invocation row: 16 × 64 each).
  const sg = vec4 && !g.f16 && textureUsesSubgroups();
  const entryPoint = sg ? "mm_sg4" : vec4 ? "mm_tex4" : "mm_tex";
  const mChunk = Math.min(M, Math.floor(L / _WG_M) * _WG_M);
  const ng = sg ? 2 : textureTileColumns(N) / 4;
  const wgN = 8 * 4 * ng;
  const wgM = sg ? _TM : _WG_M;
  const nChunk = Math.min(N, Math.floor(L / wgN) * wgN);
  // Texture rows one batch entry needs in each operand's texture.
  const perZ = (o: _Operand, cnt: number) => o.shared ? 0 : o.kPacked ? cnt : kPad;
  const zChunk = Math.max(
    1,
    Math.min(Z, Math.floor(L / Math.max(perZ(A, mChunk), perZ(B, nChunk), 1))),
  );
  for (let z0 = 0; z0 < Z; z0 += zChunk) {
    const zc = Math.min(zChunk, Z - z0);
    for (let m0 = 0; m0 < M; m0 += mChunk) {
      const mc = Math.min(mChunk, M - m0);
      const [texA, aStep] = _stage(A, g, z0, zc, m0, mc, pack);
      for (let n0 = 0; n0 < N; n0 += nChunk) {
        const nc = Math.min(nChunk, N - n0);
        const [texB, bStep] = _stage(B, g, z0, zc, n0, nc, pack);
        const act = vec4 ? g.act ?? null : null;
        const actOnly = vec4 && !!g.actOnly;
        if (vec4 && !act) {
          _noAct ??= gpu().device.createBuffer({
            size: 16,
            usage: GPUBufferUsage.STORAGE,
            label: "matmul.no_act",
          });
        }
        gpu().dispatch({
          label: `matmul.${entryPoint}${g.f16 ? "_f16" : ""}${act ? "_gelu" : actOnly ? "_gelu_only" : ""}`,
          code: sg ? _subgroupSource(gpu().subgroupWgsl!) : g.f16 ? _srcF16() : src,
          entryPoint,
          inputs: [{ texture: texA }, { texture: texB }, (g.bias ?? g.a).res],
          outputs: vec4 ? [out.res, act ? act.res : { buffer: _noAct!, size: 16 }] : [out.res],
          params: [
            kq,
            mc,
            nc,
            aStep,
            bStep,
            N,
            z0 * M * N + m0 * N + n0,
            reduce ? 0 : M * N,
            n0,
            g.bias ? 1 : 0,
            act ? 1 : actOnly ? 2 : 0,
            0,
          ],
          workgroups: [Math.ceil(nc / wgN), Math.ceil(mc / wgM), zc],
          constants: { TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0, NG: ng },
          flops: 2 * mc * nc * g.K * (reduce ? batch : zc),
        });
        _pinned.clear();
        _pinned.add(texA); // still read by the next column chunk
      }
    }
  }
  _pinned.clear();
  _actWritten = vec4 && (!!g.act || !!g.actOnly);
  return true;
}

function _gemmGeneric(g: _Gemm, out: Tensor): void {
  if (g.f16) return _withF16Operands(g, (h) => _gemmGeneric(h, out));
  gpu().dispatch({
    label: "matmul.mm_generic",
    code: src,
    entryPoint: "mm_generic",
    inputs: [g.a.res, g.b.res, (g.bias ?? g.a).res],
    outputs: [out.res],
    params: [g.M, g.N, g.K, g.batch, g.strideA, g.strideB, g.reduce ? 1 : 0, 0],
    workgroups: [Math.ceil(g.N / 32), Math.ceil(g.M / 32), g.reduce ? 1 : g.batch],
    constants: { TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0, HAS_BIAS: g.bias ? 1 : 0 },
    flops: 2 * g.M * g.N * g.K * g.batch,
  });
}

/**
 * Runs `fn` on a copy of the launch whose operands are rounded to fp16 (kernels/autocast.wgsl) when it
 * is an autocast launch (`g.f16`): the buffer paths' fp16 inputs. The copies are freed once encoded.
 */
function _withF16Operands(g: _Gemm, fn: (h: _Gemm) => void): void {
  if (!g.f16) return fn(g);
  const a = roundToF16(g.a), b = g.b === g.a ? a : roundToF16(g.b);
  try {
    fn({ ...g, a, b, f16: false });
  } finally {
    a.dispose();
    if (b !== a) b.dispose();
  }
}

let _f16Code: string | null = null;

/**
 * kernels/matmul.wgsl for fp16 staging (autocast): pack_tex writes and mm_tex/mm_tex4 read rgba16float
 * textures (textureLoad still returns vec4f), and pack_tex casts each texel to f16 before storing, so the
 * rounding is to nearest even with ±Inf on overflow (a storage-texture store alone may truncate and
 * saturate: lavapipe's does). Same kernels, no second copy of the source.
 */
function _srcF16(): string {
  if (_f16Code) return _f16Code;
  const store = "textureStore(pout, vec2u(x, y), v);";
  const tex = /texture_storage_2d<rgba32float, (read|write)>/g;
  if (!src.includes(store) || !tex.test(src)) {
    throw new Error("matmul: kernels/matmul.wgsl changed: the fp16 staging variant cannot be derived");
  }
  _f16Code = "enable f16;\n" +
    src.replace(tex, "texture_storage_2d<rgba16float, $1>")
      .replace(store, "textureStore(pout, vec2u(x, y), vec4f(vec4<f16>(v)));");
  return _f16Code;
}

function _checkF32(op: string, ...ts: (Tensor | null)[]): void {
  for (const t of ts) if (t && t.dtype !== "f32") throw new TypeError(`${op}: ${t} is not f32`);
}

function _prod(dims: readonly number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

/**
 * Matrix product `op(a) · op(b) (+ bias)`, differentiable w.r.t. a, b and bias.
 *
 * `a` is (..., M, K), or (..., K, M) with `transA`; `b` is (..., K, N), or (..., N, K) with `transB`. The
 * leading (batch) dimensions of a and b must be equal, or b must be 2-D (one matrix shared by every batch
 * entry of a). The result is (..., M, N); `bias` (N) is added to every row.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = opts.transA ?? false, transB = opts.transB ?? false;
  const bias = opts.bias ?? null;
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new RangeError(`matmul: operands must be at least 2-D, got ${a} and ${b}`);
  }
  _checkF32("matmul", a, b, bias);
  const ra = a.shape.length, rb = b.shape.length;
  const M = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batchDims = a.shape.slice(0, ra - 2);
  const shared = rb === 2;
  if (Kb !== K) {
    throw new RangeError(
      `matmul: inner dimensions differ: ${a}${transA ? "ᵀ" : ""} · ${b}${transB ? "ᵀ" : ""} (${K} vs ${Kb})`,
    );
  }
  if (!shared && (rb !== ra || b.shape.slice(0, rb - 2).some((d, i) => d !== batchDims[i]))) {
    throw new RangeError(`matmul: batch dimensions of ${a} and ${b} differ (b may also be 2-D)`);
  }
  if (bias && (bias.size !== N || bias.shape.length !== 1)) {
    throw new RangeError(`matmul: bias ${bias} must be (${N})`);
  }
  const batch = _prod(batchDims);
  const outShape = [...batchDims, M, N];
  const f16 = autocastEnabled();
  const out = _bmm(a, b, { M, N, K, batch, transA, transB, shared, bias, outShape, f16 });
  const inputs = bias ? [a, b, bias] : [a, b];
  return record(out, "matmul", inputs, (g) => {
    const [da, db] = _bmmBackward(g, a, b, { M, N, K, batch, transA, transB, shared, f16 });
    return bias ? [da, db, sumRows(g)] : [da, db];
  });
}

interface _Bmm {
  M: number;
  N: number;
  K: number;
  batch: number;
  transA: boolean;
  transB: boolean;
  /** b is one matrix shared by every batch entry of a. */
  shared: boolean;
  /** Autocast was on when the product was recorded: forward and backward products read fp16 operands. */
  f16?: boolean;
}

/** Forward of a batched product; a shared b with a non-transposed a folds the batch into M. */
function _bmm(
  a: Tensor,
  b: Tensor,
  s: _Bmm & { bias: Tensor | null; outShape: number[]; act?: Tensor | null; actOnly?: boolean },
): Tensor {
  const fold = s.shared && !s.transA;
  return _gemm({
    a,
    b,
    M: fold ? s.batch * s.M : s.M,
    N: s.N,
    K: s.K,
    batch: fold ? 1 : s.batch,
    strideA: s.M * s.K,
    strideB: s.shared ? 0 : s.K * s.N,
    transA: s.transA,
    transB: s.transB,
    reduce: false,
    bias: s.bias,
    outShape: s.outShape,
    label: "matmul",
    f16: s.f16,
    act: s.act,
    actOnly: s.actOnly,
  });
}

/**
 * Gradients of C = op(A)·op(B) from dC = g, using only layout flags (no materialised transposes):
 * dop(A) = g·op(B)ᵀ and dop(B) = op(A)ᵀ·g, written in the stored layouts of A and B. A shared B gets the
 * sum over the batch.
 */
function _bmmBackward(g: Tensor, a: Tensor, b: Tensor, s: _Bmm): [Tensor | null, Tensor | null] {
  const { M, N, K, batch, transA, transB, shared, f16 } = s;
  const sA = M * K, sB = shared ? 0 : K * N, sG = M * N;
  let da: Tensor | null = null, db: Tensor | null = null;
  if (a.requiresGrad) {
    if (!transA) {
      // dA (M, K) = g (M, N) · op(B)ᵀ; op(B)ᵀ is B itself when B is stored (N, K).
      const fold = shared;
      da = _gemm({
        a: g,
        b,
        M: fold ? batch * M : M,
        N: K,
        K: N,
        batch: fold ? 1 : batch,
        strideA: sG,
        strideB: sB,
        transA: false,
        transB: !transB,
        reduce: false,
        bias: null,
        outShape: [...a.shape],
        label: "matmul.dA",
        f16,
      });
    } else {
      // dA (K, M) = op(B) (K, N) · gᵀ (N, M).
      da = _gemm({
        a: b,
        b: g,
        M: K,
        N: M,
        K: N,
        batch,
        strideA: sB,
        strideB: sG,
        transA: transB,
        transB: true,
        reduce: false,
        bias: null,
        outShape: [...a.shape],
        label: "matmul.dA",
        f16,
      });
    }
  }
  if (b.requiresGrad) {
    const common = { M: 0, N: 0, K: M, batch, reduce: shared, bias: null, outShape: [...b.shape] };
    if (!transB) {
      // dB (K, N) = op(A)ᵀ (K, M) · g (M, N); op(A)ᵀ is A itself when A is stored (K, M).
      db = _gemm({
        ...common,
        a,
        b: g,
        M: K,
        N,
        strideA: sA,
        strideB: sG,
        transA: !transA,
        transB: false,
        label: "matmul.dB",
        f16,
      });
    } else {
      // dB (N, K) = gᵀ (N, M) · op(A) (M, K).
      db = _gemm({
        ...common,
        a: g,
        b: a,
        M: N,
        N: K,
        strideA: sG,
        strideB: sA,
        transA: true,
        transB: transA,
        label: "matmul.dB",
        f16,
      });
    }
  }
  return [da, db];
}

/**
 * PyTorch's nn.Linear: `y = x · weightᵀ + bias` with x (..., in), weight (out, in), bias (out) or none;
 * y is (..., out). Differentiable w.r.t. x, weight and bias.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const s = _linearSpec("linear", x, weight, bias);
  const outShape = [...x.shape.slice(0, -1), s.N];
  const out = _bmm(x, weight, { ...s, bias, outShape });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, "linear", inputs, (g) => {
    const [dx, dw] = _bmmBackward(g, x, weight, s);
    return bias ? [dx, dw, sumRows(g)] : [dx, dw];
  });
}

/**
 * `gelu(linear(x, weight, bias))` (BERT's intermediate dense + exact GELU) with the GELU in the product's
 * epilogue where the texture path allows (mm_tex4 in one K range: the kernel stores the pre-activation for
 * the backward and its GELU in the same pass; when no input needs a gradient, as in inference, only the
 * GELU), else the separate GELU kernel. Values are gelu.forward's; the backward is GELU's rule then
 * linear's. Differentiable in x, weight and bias.
 */
export function linearGelu(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const s = _linearSpec("linearGelu", x, weight, bias);
  const outShape = [...x.shape.slice(0, -1), s.N];
  const inputs = bias ? [x, weight, bias] : [x, weight];
  if (!needsGrad(inputs)) {
    // Nothing will differentiate it (inference): the epilogue stores GELU in place of the product.
    const out = _bmm(x, weight, { ...s, bias, outShape, actOnly: true });
    if (_actWritten) return out;
    const y = geluForward(out);
    out.dispose();
    return y;
  }
  const fused = Tensor.empty(outShape, "f32", "linear_gelu");
  const pre = _bmm(x, weight, { ...s, bias, outShape, act: fused });
  let y = fused;
  if (!_actWritten) {
    fused.dispose();
    y = geluForward(pre);
  }
  return record(y, "linear_gelu", inputs, (g) => {
    const dpre = geluBackward(g, pre);
    const [dx, dw] = _bmmBackward(dpre, x, weight, s);
    const grads = bias ? [dx, dw, sumRows(dpre)] : [dx, dw];
    dpre.dispose();
    return grads;
  }, [pre]);
}

/** Checks linear's operands and returns the product's geometry (x's rows × weight's rows). */
function _linearSpec(op: string, x: Tensor, weight: Tensor, bias: Tensor | null): _Bmm {
  if (weight.shape.length !== 2) throw new RangeError(`${op}: weight ${weight} must be (out, in)`);
  _checkF32(op, x, weight, bias);
  const [outF, inF] = weight.shape;
  if (x.shape.length < 1 || x.shape[x.shape.length - 1] !== inF) {
    throw new RangeError(`${op}: input ${x} must end in ${inF} (weight ${weight})`);
  }
  if (bias && (bias.size !== outF || bias.shape.length !== 1)) {
    throw new RangeError(`${op}: bias ${bias} must be (${outF})`);
  }
  return {
    M: x.size / inF,
    N: outF,
    K: inF,
    batch: 1,
    transA: false,
    transB: true,
    shared: true,
    f16: autocastEnabled(),
  };
}

/** Floating-point operations of a (batched) M×K · K×N product: 2·M·N·K·batch. */
export function matmulFlops(M: number, N: number, K: number, batch = 1): number {
  return 2 * M * N * K * batch;
}
