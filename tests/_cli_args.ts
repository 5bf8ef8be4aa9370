/**
 * Train-CLI arguments shared by the CLI tests: a from-scratch BERT small enough to train in seconds
 * (hidden 32, 1 layer, 2 heads, intermediate 64). Tests append their own data, step and output flags.
 * @module
 */

/** `--from-scratch` with the tiny model shape every CLI test trains. */
export const TINY_FROM_SCRATCH: readonly string[] = [
  "--from-scratch",
  "--hidden-size",
  "32",
  "--num-hidden-layers",
  "1",
  "--num-attention-heads",
  "2",
  "--intermediate-size",
  "64",
];
