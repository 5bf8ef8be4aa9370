/**
 * The compute engine: GPU runtime, tensors with scoped lifetimes, the autograd tape and the ops.
 * @module
 */
export * from "./gpu.ts";
export * from "./buffer_pool.ts";
export * from "./tensor.ts";
export * from "./tape.ts";
export * from "../ops/elementwise.ts";
export * from "../ops/rng.ts";
export * from "../ops/matmul.ts";
export * from "../ops/layernorm.ts";
export * from "../ops/gelu.ts";
export * from "../ops/dropout.ts";
export * from "../ops/embedding.ts";
export { rowSparseGradsEnabled, setRowSparseGrads } from "../ops/embedding_grad.ts";
export * from "../ops/attention.ts";
export * from "../ops/rel_attention.ts";
export * from "../ops/cross_entropy.ts";
export * from "../ops/adamw.ts";
export * from "../ops/autocast.ts";
export { fallbackCounts, traceDispatches } from "./dispatch_trace.ts";
export { setStagedLoads, stagedLoadsActive, type StagedLoadsMode } from "./staged_loads.ts";
export { isCpuAdapter, isLavapipe } from "./adapter.ts";
