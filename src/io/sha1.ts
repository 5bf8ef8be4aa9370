/**
 * SHA-1 in plain TypeScript (FIPS 180-4), synchronous, for git blob ids of small regular files; no `node:`
 * import so that it loads in a browser.
 * @module
 */

/** Incremental SHA-1: `update` with bytes or strings (UTF-8), then `hex()`. */
export class Sha1 {
  #h = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
  #buf = new Uint8Array(64);
  #used = 0;
  #length = 0;
  #w = new Uint32Array(80);

  /** Adds bytes (a string is UTF-8 encoded). */
  update(data: Uint8Array | string): this {
    const b = typeof data === "string" ? new TextEncoder().encode(data) : data;
    this.#length += b.length;
    let i = 0;
    while (i < b.length) {
      const n = Math.min(64 - this.#used, b.length - i);
      this.#buf.set(b.subarray(i, i + n), this.#used);
      this.#used += n;
      i += n;
      if (this.#used === 64) {
        this.#block(this.#buf);
        this.#used = 0;
      }
    }
    return this;
  }

  #block(blk: Uint8Array): void {
    const w = this.#w;
    for (let t = 0; t < 16; t++) {
      w[t] = (blk[4 * t] << 24) | (blk[4 * t + 1] << 16) | (blk[4 * t + 2] << 8) | blk[4 * t + 3];
    }
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
      w[t] = (x << 1) | (x >>> 31);
    }
    let [a, b, c, d, e] = this.#h;
    for (let t = 0; t < 80; t++) {
      let f: number, k: number;
      if (t < 20) [f, k] = [(b & c) | (~b & d), 0x5a827999];
      else if (t < 40) [f, k] = [b ^ c ^ d, 0x6ed9eba1];
      else if (t < 60) [f, k] = [(b & c) | (b & d) | (c & d), 0x8f1bbcdc];
      else [f, k] = [b ^ c ^ d, 0xca62c1d6];
      const tmp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]) >>> 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = tmp;
    }
    const h = this.#h;
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }

  /** Finishes and returns the digest as 40 lowercase hex digits. */
  hex(): string {
    const bits = this.#length * 8;
    const pad = new Uint8Array(((this.#used < 56 ? 56 : 120) - this.#used) + 8);
    pad[0] = 0x80;
    const dv = new DataView(pad.buffer);
    dv.setUint32(pad.length - 8, Math.floor(bits / 2 ** 32));
    dv.setUint32(pad.length - 4, bits >>> 0);
    this.update(pad);
    return Array.from(this.#h, (x) => x.toString(16).padStart(8, "0")).join("");
  }
}
