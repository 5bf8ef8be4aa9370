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
