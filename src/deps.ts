/**
 * The one place that names third-party packages. Full `npm:` specifiers are used (not deno.json's import
 * map) because the import map is not applied when `mod.ts` is imported from a URL.
 * @module
 */
export { Tokenizer } from "npm:@huggingface/tokenizers@0.2.0";
export * as arrow from "npm:apache-arrow@21.2.0";
