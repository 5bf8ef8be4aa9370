/**
 * Staged loads for CPU adapters. Under lavapipe (Mesa 22.3's llvmpipe JIT) a storage-buffer load is far
 * dearer than a storage-texture load: measured on 2 cores, a kernel that only loads 1M floats from a
 * buffer takes 5.7 ms, one that loads them from an `rgba32float` storage texture and stores them to a
 * buffer 3.0 ms (the store alone 2.8 ms), and `copyBufferToTexture` moves the 4 MB in 0.9 ms (a memcpy).
 * So on CPU adapters a kernel's large read-only vec4 inputs are copied into cached textures first and the
 * kernel reads them with `textureLoad`: AdamW at 480K–2.4M parameters runs about 2× faster.
 *
 * The kernel source is not duplicated by hand: {@link stagedSource} rewrites a WGSL module so that the
 * named `var<storage, read> NAME: array<vec4f>` bindings become `texture_storage_2d<rgba32float, read>`
 * bindings at the same binding number and every `NAME[i]` becomes a texel fetch at (i mod W, i div W),
 * W = {@link STAGE_WIDTH}. Values are copied bit for bit, so results are identical to the buffer kernel.
 * Real GPUs keep the buffer kernels (a copy would be an extra pass over memory there).
 * @module
 */
import { type BufferResource, type DispatchSpec, type Gpu, gpu, type Resource } from "./gpu.ts";
import { isLavapipe } from "./adapter.ts";

/** Texels per staging-texture row (16·65: rows are 256-byte multiples and not a power of two). */
export const STAGE_WIDTH = 1040;

/** `"auto"`: stage on lavapipe/llvmpipe only (where it was measured); `"on"` / `"off"`: always / never (tests, benchmarks). */
export type StagedLoadsMode = "auto" | "on" | "off";

let _mode: StagedLoadsMode = "auto";
let _minBytes = 64 * 1024;
let _auto: { gpu: Gpu; on: boolean } | null = null;

/**
 * Chooses when inputs are staged through textures. `minBytes` (default 64 KiB) is the smallest input that
 * is staged: below it a copy's fixed cost (~70 µs on lavapipe) outweighs the cheaper loads.
 */
export function setStagedLoads(mode: StagedLoadsMode, minBytes = 64 * 1024): void {
  _mode = mode;
  _minBytes = minBytes;
}

/** Whether inputs are staged on the current device. */
export function stagedLoadsActive(): boolean {
  if (_mode !== "auto") return _mode === "on";
  const g = gpu();
  if (_auto?.gpu !== g) _auto = { gpu: g, on: isLavapipe(g.adapterInfo) };
  return _auto.on;
}

const _sources = new Map<string, Map<string, string>>();

/**
 * `code` with the read-only vec4 storage buffers `names` turned into staged textures (see the module
 * comment); cached. Throws when a name is not declared as `var<storage, read> NAME: array<vec4f>` or is
 * used other than as `NAME[index]`.
 */
export function stagedSource(code: string, names: readonly string[]): string {
  const key = names.join(",");
  let byNames = _sources.get(code);
  if (!byNames) _sources.set(code, byNames = new Map());
  let out = byNames.get(key);
  if (out === undefined) {
    out = _rewrite(code, names);
    byNames.set(key, out);
  }
  return out;
}

function _rewrite(code: string, names: readonly string[]): string {
  let out = code.replace(/\/\/[^\n]*/g, ""); // comments may mention the names
  const fetches: string[] = [];
  for (const name of names) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`stagedSource: bad variable name '${name}'`);
    const decl = new RegExp(
      `@group\\(0\\)\\s*@binding\\((\\d+)\\)\\s*var<storage,\\s*read>\\s*${name}\\s*:\\s*array<vec4f>\\s*;`,
    );
    const m = decl.exec(out);
    if (!m) throw new Error(`stagedSource: '${name}' is not declared as var<storage, read> array<vec4f>`);
    out = out.replace(
      decl,
      `@group(0) @binding(${m[1]}) var ${name}_staged: texture_storage_2d<rgba32float, read>;`,
    );
    out = _replaceIndexing(out, name, (index) => `_staged_${name}(u32(${index}))`);
    if (new RegExp(`\\b${name}\\b`).test(out)) {
      throw new Error(`stagedSource: '${name}' is used other than as ${name}[index]`);
    }
    fetches.push(
      `fn _staged_${name}(i: u32) -> vec4f { return textureLoad(${name}_staged, ` +
        `vec2u(i % ${STAGE_WIDTH}u, i / ${STAGE_WIDTH}u)); }`,
    );
  }
  return `${out}\n${fetches.join("\n")}\n`;
}

/** Replaces every `name[expr]` (brackets matched) by `fn(expr)`. */
function _replaceIndexing(code: string, name: string, fn: (index: string) => string): string {
  const re = new RegExp(`(?<![A-Za-z0-9_.])${name}\\s*\\[`, "g");
  let out = "";
  let last = 0;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    let depth = 1;
    let j = m.index + m[0].length;
    for (; j < code.length && depth > 0; j++) {
      if (code[j] === "[") depth++;
      else if (code[j] === "]") depth--;
    }
    if (depth !== 0) throw new Error(`stagedSource: unbalanced brackets after '${name}['`);
    out += code.slice(last, m.index) + fn(code.slice(m.index + m[0].length, j - 1));
    last = j;
    re.lastIndex = j;
  }
  return out + code.slice(last);
}

// ---- staging textures ------------------------------------------------------------------------------------

const _textures = new Map<string, GPUTexture>();
const _pinned = new Set<string>(); // the textures of the dispatch being prepared: never evicted
let _textureBytes = 0;
const _MAX_TEXTURE_BYTES = 512 * 1024 * 1024;

/** Texture heights: 3, 5, 9, 17, … (2^k + 1: never a power of two, which llvmpipe compiles separately). */
function _heightFor(rows: number, maxSide: number): number {
  let h = 3;
  while (h < rows) h = (h - 1) * 2 + 1;
  if (h > maxSide) h = rows < maxSide ? maxSide - 1 : -1;
  return h;
}

function _texture(name: string, height: number): GPUTexture {
  const key = `${name}:${height}`;
  let t = _textures.get(key);
  _pinned.add(key);
  if (t) {
    _textures.delete(key);
    _textures.set(key, t); // most recently used last
    return t;
  }
  const bytes = STAGE_WIDTH * height * 16;
  if (_textureBytes + bytes > _MAX_TEXTURE_BYTES && _textures.size > 0) {
    gpu().flush(); // encoded work may still read an evicted texture: submit it before destroying
    for (const [k, old] of _textures) {
      if (_textureBytes + bytes <= _MAX_TEXTURE_BYTES) break;
      if (_pinned.has(k)) continue;
      _textures.delete(k);
      _textureBytes -= old.width * old.height * 16;
      gpu().destroy(old);
    }
  }
  t = gpu().device.createTexture({
    label: `staged.${name}`,
    size: [STAGE_WIDTH, height],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
  });
  _textureBytes += bytes;
  _textures.set(key, t);
  _pinned.add(key);
  return t;
}

/** Bytes held by cached staging textures (for tests and memory reports). */
export function stagedTextureBytes(): number {
  return _textureBytes;
}

/** Copies a buffer range (a 16-byte multiple at a 16-byte offset) into a staging texture. */
function _stage(r: BufferResource, name: string, height: number): GPUTexture {
  const tex = _texture(name, height);
  const texels = (r.size ?? r.buffer.size) / 16;
  const full = Math.floor(texels / STAGE_WIDTH);
  const rest = texels % STAGE_WIDTH;
  const offset = r.offset ?? 0;
  const enc = gpu().encoderForCopy();
  if (full > 0) {
    enc.copyBufferToTexture(
      { buffer: r.buffer, offset, bytesPerRow: STAGE_WIDTH * 16, rowsPerImage: full },
      { texture: tex },
      [STAGE_WIDTH, full],
    );
  }
  if (rest > 0) {
    enc.copyBufferToTexture(
      { buffer: r.buffer, offset: offset + full * STAGE_WIDTH * 16 },
      { texture: tex, origin: [0, full] },
      [rest, 1],
    );
  }
  return tex;
}

interface _Choice {
  i: number;
  name: string;
  r: BufferResource;
  height: number;
}

/**
 * Whether an input of `bytes` bytes would be staged (staging active, at least the minimum size, whole
 * vec4s): kernels that batch small tensors instead (src/ops/adamw_multi.ts) take only the others.
 */
export function stagesInput(bytes: number): boolean {
  return stagedLoadsActive() && bytes >= _minBytes && bytes % 16 === 0;
}

/** The inputs that can be staged (`all`: ignoring the minimum size). */
function _choose(spec: DispatchSpec, names: readonly (string | null)[], all: boolean): _Choice[] {
  const maxSide = gpu().limits.maxTextureDimension2D;
  const chosen: _Choice[] = [];
  names.forEach((name, i) => {
    const r = spec.inputs[i] as BufferResource | undefined;
    if (!name || !r || !("buffer" in r)) return;
    const bytes = r.size ?? r.buffer.size;
    if ((!all && bytes < _minBytes) || bytes % 16 !== 0 || (r.offset ?? 0) % 16 !== 0) return;
    const height = _heightFor(Math.ceil(bytes / 16 / STAGE_WIDTH), maxSide);
    if (height > 0) chosen.push({ i, name, r, height });
  });
  return chosen;
}

const _lastStaged = new Map<string, string[]>();

/** The WGSL names of the inputs that the last staged dispatch labelled `label` read from textures (tests). */
export function stagedInputNames(label: string): readonly string[] | undefined {
  return _lastStaged.get(label);
}

function _dispatch(spec: DispatchSpec, chosen: _Choice[]): void {
  const inputs: Resource[] = [...spec.inputs];
  _pinned.clear();
  for (const c of chosen) inputs[c.i] = { texture: _stage(c.r, c.name, c.height) };
  _lastStaged.set(spec.label, chosen.map((c) => c.name));
  gpu().dispatch({
    ...spec,
    label: `${spec.label}+staged`,
    code: stagedSource(spec.code, chosen.map((c) => c.name)),
    inputs,
  });
}

/**
 * {@link Gpu.dispatch} with staged loads: `names[i]` is the WGSL variable of input `i` that may be read
 * from a texture (null: always a buffer). Where staging is active and an input is large enough (a whole
 * number of vec4s at a 16-byte offset, at least the minimum size, and within the texture size limit), it
 * is copied into a cached texture and the kernel runs from {@link stagedSource}; its label gains `+staged`
 * (visible in the profile and the dispatch trace). Otherwise the spec is dispatched unchanged.
 * `anySize`: stage the named inputs below the minimum size too (a small table every invocation reads
 * many times, such as the lazy AdamW's step constants).
 */
export function dispatchStaged(
  spec: DispatchSpec,
  names: readonly (string | null)[],
  opts: { anySize?: boolean } = {},
): void {
  const chosen = stagedLoadsActive() ? _choose(spec, names, opts.anySize ?? false) : [];
  if (chosen.length === 0) return gpu().dispatch(spec);
  _dispatch(spec, chosen);
}

/**
 * Dispatches `spec` with every named input staged and returns true; returns false (dispatching nothing)
 * where staging is not active, no named input reaches the minimum size, or some named input cannot be
 * staged. For kernels whose named inputs alias their outputs, which only a staged copy makes legal.
 */
export function dispatchAllStaged(spec: DispatchSpec, names: readonly string[]): boolean {
  if (!stagedLoadsActive() || _choose(spec, names, false).length === 0) return false;
  const chosen = _choose(spec, names, true);
  if (chosen.length !== names.length) return false;
  _dispatch(spec, chosen);
  return true;
}
