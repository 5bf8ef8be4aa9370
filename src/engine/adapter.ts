/**
 * Facts about the WebGPU adapter that choose kernel paths (CPU adapters vs real GPUs).
 * @module
 */

/** Adapter facts {@link isCpuAdapter} looks at (a GPUAdapterInfo has them). */
export interface AdapterFacts {
  isFallbackAdapter?: boolean;
  description?: string;
  vendor?: string;
  architecture?: string;
  device?: string;
}

/**
 * True for a CPU (software) adapter: one the browser/driver marks as the fallback adapter, or one whose
 * info names a software rasteriser (llvmpipe/lavapipe, SwiftShader, WARP, softpipe).
 */
export function isCpuAdapter(info: AdapterFacts): boolean {
  if (info.isFallbackAdapter) return true;
  const text = [info.description, info.vendor, info.architecture, info.device].join(" ");
  return /llvmpipe|lavapipe|swiftshader|softpipe|\bwarp\b|microsoft basic render/i.test(text);
}

/** True for Mesa's llvmpipe/lavapipe (the CPU adapter whose costs the staged-load path was measured on). */
export function isLavapipe(info: AdapterFacts): boolean {
  const text = [info.description, info.vendor, info.architecture, info.device].join(" ");
  return /llvmpipe|lavapipe/i.test(text);
}
