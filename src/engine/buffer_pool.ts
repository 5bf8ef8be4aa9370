/**
 * A pool of storage buffers keyed by rounded size. Freed buffers are kept and handed out again, so a
 * training step that allocates the same activations every step allocates GPU memory only once.
 * @module
 */

/** Usage flags every pooled buffer carries: bindable as storage and copyable both ways. */
export const POOL_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Memory counters of a {@link BufferPool}, in bytes. */
export interface PoolStats {
  /** Bytes of GPU buffers the pool has created and not destroyed. */
  allocatedBytes: number;
  /** Bytes of buffers currently handed out. */
  inUseBytes: number;
  /** Bytes of buffers waiting in the pool for reuse. */
  freeBytes: number;
  /** Buffers currently handed out. */
  inUseCount: number;
}

/**
 * Rounds a byte size up to its bucket: a multiple of 256 bytes below 4 KiB, otherwise the next of
 * 1, 1.25, 1.5 or 1.75 times a power of two (at most 25% waste).
 */
export function bucketSize(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 256) * 256);
  if (b <= 4096) return b;
  const pow = 2 ** Math.floor(Math.log2(b));
  const step = pow / 4;
  return Math.ceil(b / step) * step;
}

/** A size-bucketed pool of GPU storage buffers. */
export class BufferPool {
  #device: GPUDevice;
  #free = new Map<number, GPUBuffer[]>();
  #stats: PoolStats = { allocatedBytes: 0, inUseBytes: 0, freeBytes: 0, inUseCount: 0 };
  #maxBufferSize: number;
  #beforeDestroy: (b: GPUBuffer) => void;

  /**
   * Creates a pool on `device`; buffers never exceed `maxBufferSize` bytes. `beforeDestroy` is told of
   * every buffer the pool destroys, first (the GPU's bind-group cache forgets it).
   */
  constructor(device: GPUDevice, maxBufferSize: number, beforeDestroy: (b: GPUBuffer) => void = () => {}) {
    this.#device = device;
    this.#maxBufferSize = maxBufferSize;
    this.#beforeDestroy = beforeDestroy;
  }

  /** Takes a buffer of at least `bytes` bytes from the pool, creating one when none is free. */
  acquire(bytes: number, label: string): GPUBuffer {
    const size = bucketSize(bytes);
    if (size > this.#maxBufferSize) {
      throw new RangeError(
        `buffer '${label}' needs ${bytes} bytes but this device allows at most ${this.#maxBufferSize} ` +
          `bytes per buffer (maxBufferSize); use smaller batches or a device with larger limits`,
      );
    }
    const list = this.#free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.#stats.freeBytes -= size;
    } else {
      buf = this.#device.createBuffer({ size, usage: POOL_USAGE, label });
      this.#stats.allocatedBytes += size;
    }
    this.#stats.inUseBytes += size;
    this.#stats.inUseCount++;
    return buf;
  }

  /** Returns a buffer obtained from {@link acquire} for reuse. */
  release(buf: GPUBuffer): void {
    const size = buf.size;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(buf);
    this.#stats.inUseBytes -= size;
    this.#stats.inUseCount--;
    this.#stats.freeBytes += size;
  }

  /** Destroys every free buffer (memory handed out stays). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const b of list) {
        this.#stats.allocatedBytes -= b.size;
        this.#stats.freeBytes -= b.size;
        this.#beforeDestroy(b);
        b.destroy();
      }
    }
    this.#free.clear();
  }

  /** A snapshot of the counters. */
  stats(): PoolStats {
    return { ...this.#stats };
  }
}
