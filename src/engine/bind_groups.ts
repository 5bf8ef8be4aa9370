/**
 * Bind groups reused across dispatches: a kernel launched again on the same buffers (parameters, their
 * gradients and moments, pooled activations handed out again next step) and textures gets the bind group it
 * had before instead of a new one (`createBindGroup` costs ~30 µs on lavapipe, most of a dispatch's host
 * time). The params uniform is bound at a dynamic offset, so it does not enter the key. Entries that name a
 * destroyed buffer or texture are dropped by {@link BindGroupCache.forget}, which every destroy site in the
 * engine calls (see {@link Gpu.destroy}).
 * @module
 */

/** A storage buffer range or a storage texture, as a dispatch binds it. */
export type BindingResource = { buffer: GPUBuffer; offset: number; size: number } | { texture: GPUTexture };

const _MAX_ENTRIES = 8192;

let _reuse = true;

/**
 * Turns bind-group reuse on (default) or off (a new bind group for every dispatch, as before; the results
 * are the same). For tests and A/B benches.
 */
export function setBindGroupReuse(enabled: boolean): void {
  _reuse = enabled;
}

/** A cache of bind groups keyed by layout and bound resources (identity, offset, size). */
export class BindGroupCache {
  #device: GPUDevice;
  #ids = new WeakMap<object, number>();
  #nextId = 1;
  #groups = new Map<string, GPUBindGroup>();
  /** resource id → keys of the cached groups that bind it */
  #users = new Map<number, string[]>();
  #views = new WeakMap<GPUTexture, GPUTextureView>();
  #hits = 0;
  #misses = 0;

  /** A cache for bind groups of `device`. */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** A stable small id for a GPU object. */
  #id(o: object): number {
    let id = this.#ids.get(o);
    if (id === undefined) this.#ids.set(o, id = this.#nextId++);
    return id;
  }

  /**
   * The bind group of `layout` binding `resources` at bindings 0.. and, when given, `uniform` (its first
   * `uniformSize` bytes, bound with a dynamic offset) at the next binding. Created on first use.
   */
  get(
    layout: GPUBindGroupLayout,
    resources: readonly BindingResource[],
    uniform: GPUBuffer | null,
    uniformSize: number,
    label: string,
  ): GPUBindGroup {
    let key = String(this.#id(layout));
    const ids: number[] = [];
    for (const r of resources) {
      if ("texture" in r) {
        const id = this.#id(r.texture);
        ids.push(id);
        key += `|t${id}`;
      } else {
        const id = this.#id(r.buffer);
        ids.push(id);
        key += `|${id}:${r.offset}:${r.size}`;
      }
    }
    if (uniform) key += `|u${this.#id(uniform)}`;
    const hit = _reuse ? this.#groups.get(key) : undefined;
    if (hit) {
      this.#hits++;
      return hit;
    }
    this.#misses++;
    if (this.#groups.size >= _MAX_ENTRIES) this.clear();
    const entries: GPUBindGroupEntry[] = resources.map((r, binding) => ({
      binding,
      resource: "texture" in r ? this.#view(r.texture) : { buffer: r.buffer, offset: r.offset, size: r.size },
    }));
    if (uniform) {
      entries.push({ binding: entries.length, resource: { buffer: uniform, offset: 0, size: uniformSize } });
    }
    const group = this.#device.createBindGroup({ layout, entries, label });
    if (!_reuse) return group;
    this.#groups.set(key, group);
    for (const id of ids) {
      const users = this.#users.get(id);
      if (users) users.push(key);
      else this.#users.set(id, [key]);
    }
    return group;
  }

  #view(texture: GPUTexture): GPUTextureView {
    let v = this.#views.get(texture);
    if (!v) this.#views.set(texture, v = texture.createView());
    return v;
  }

  /** Drops every cached bind group that binds `resource` (call before destroying it). */
  forget(resource: GPUBuffer | GPUTexture): void {
    const id = this.#ids.get(resource);
    if (id === undefined) return;
    for (const key of this.#users.get(id) ?? []) this.#groups.delete(key);
    this.#users.delete(id);
  }

  /** Drops every cached bind group. */
  clear(): void {
    this.#groups.clear();
    this.#users.clear();
  }

  /** Cached groups, and lookups that found / created one since the cache was made. */
  stats(): { entries: number; hits: number; misses: number } {
    return { entries: this.#groups.size, hits: this.#hits, misses: this.#misses };
  }
}
