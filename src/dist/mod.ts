/**
 * Data parallelism: the process group (single-process by default; MPI through FFI only when launched
 * with several processes by `deno task launch`), collectives on tensors and host arrays, and
 * Accelerate's loader sharding. The MPI binding itself (`./mpi.ts`) is loaded on demand.
 * @module
 */
export * from "./group.ts";
export * from "./collectives.ts";
export * from "./sharding.ts";
