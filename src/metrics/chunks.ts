/**
 * seqeval's default ("conlleval-compatible") chunk extraction.
 *
 * Each tag is split into a one-letter chunk tag and a type (`B-PER` → `B`, `PER`; `O` → `O`, `_`; a bare `I`
 * → `I`, `_`). A chunk ends before the current tag after `E`/`S`, after `B`/`I` when the current tag is
 * `B`, `S` or `O`, and whenever the type changes after a tag other than `O`/`.`. A chunk starts at `B`/`S`,
 * at `E`/`I` after `E`, `S` or `O`, and whenever the type changes at a tag other than `O`/`.`. So an `I-X`
 * after `O` or after another type starts a chunk, and a trailing `B-X` is a one-token chunk.
 *
 * Sentences are evaluated as seqeval does it: concatenated with an `O` after each one, positions counted
 * over the concatenation. {@link ChunkStream} does the same thing incrementally, one sentence at a time.
 * @module
 */

import { warnOnce } from "./warnings.ts";

/** A chunk found in a tag sequence: its type and the first and last (inclusive) token position. */
export type Chunk = [type: string, start: number, end: number];

/** Options shared by the default-mode functions. */
export interface ChunkOptions {
  /** Tags carry the chunk letter at the end (`PER-B`) instead of the start (`B-PER`). Default false. */
  suffix?: boolean;
}

/** A tag split into its chunk letter and type, as seqeval's `get_entities` splits it. */
export interface ParsedTag {
  /** The chunk letter: `B`, `I`, `E`, `S`, `O`, or whatever character the tag has in that place. */
  letter: string;
  /** The type (`PER`), or `_` when the tag has none. */
  type: string;
}

const _NE_LETTERS = new Set(["O", "B", "I", "E", "S"]);

/**
 * Splits a tag the way seqeval's default mode does, warning once (as seqeval does) when it does not look
 * like an entity tag (`B-`, `I-`, `E-`, `S-` plus a type, or a bare `O`/`B`/`I`/`E`/`S`).
 * Throws on an empty string, which seqeval cannot index either.
 */
export function parseTag(tag: string, suffix = false): ParsedTag {
  if (typeof tag !== "string" || tag.length === 0) {
    throw new TypeError(`expected a non-empty tag string, got ${JSON.stringify(tag)}`);
  }
  if (!_NE_LETTERS.has(tag)) {
    const ok = suffix ? /-[BIES]$/.test(tag) : /^[BIES]-/.test(tag);
    if (!ok) warnOnce(`${tag} seems not to be NE tag.`);
  }
  if (suffix) {
    const body = tag.slice(0, -1);
    const dash = body.lastIndexOf("-");
    return { letter: tag[tag.length - 1], type: (dash < 0 ? body : body.slice(0, dash)) || "_" };
  }
  const body = tag.slice(1);
  const dash = body.indexOf("-");
  return { letter: tag[0], type: (dash < 0 ? body : body.slice(dash + 1)) || "_" };
}

/** True when a chunk ends between a token tagged (prevLetter, prevType) and one tagged (letter, type). */
export function endOfChunk(prevLetter: string, letter: string, prevType: string, type: string): boolean {
  if (prevLetter === "E" || prevLetter === "S") return true;
  if ((prevLetter === "B" || prevLetter === "I") && (letter === "B" || letter === "S" || letter === "O")) {
    return true;
  }
  return prevLetter !== "O" && prevLetter !== "." && prevType !== type;
}

/** True when a chunk starts at a token tagged (letter, type) that follows one tagged (prevLetter, prevType). */
export function startOfChunk(prevLetter: string, letter: string, prevType: string, type: string): boolean {
  if (letter === "B" || letter === "S") return true;
  if (
    (letter === "E" || letter === "I") && (prevLetter === "E" || prevLetter === "S" || prevLetter === "O")
  ) {
    return true;
  }
  return letter !== "O" && letter !== "." && prevType !== type;
}

/**
 * Incremental chunk finder over a concatenation of sentences (an `O` is pushed after each sentence, and
 * once more by {@link ChunkStream.finish}, exactly as seqeval pads its input). Each {@link push} reports the
 * chunk that ended just before the pushed tag, if any: at most one chunk can end at each position.
 */
export class ChunkStream {
  #prevLetter = "O";
  #prevType = "";
  #begin = 0;
  #position = 0;
  readonly #suffix: boolean;
  readonly #cache = new Map<string, ParsedTag>();

  /** Starts an empty stream; `suffix` selects `PER-B` style tags. */
  constructor(suffix = false) {
    this.#suffix = suffix;
  }

  /** Number of tags pushed so far, sentence-separating `O`s included. */
  get position(): number {
    return this.#position;
  }

  /**
   * Feeds the next tag. Returns the chunk that ended right before it as `[type, start, end]`, or
   * `undefined`. Throws on an empty tag.
   */
  push(tag: string): Chunk | undefined {
    let parsed = this.#cache.get(tag);
    if (parsed === undefined) {
      parsed = parseTag(tag, this.#suffix);
      this.#cache.set(tag, parsed);
    }
    return this.#step(parsed.letter, parsed.type);
  }

  /** Feeds the `O` that seqeval puts after every sentence; returns the chunk it closes, if any. */
  endSentence(): Chunk | undefined {
    return this.#step("O", "_");
  }

  /** Feeds seqeval's final padding `O` and returns the chunk it closes, if any. */
  finish(): Chunk | undefined {
    return this.#step("O", "_");
  }

  #step(letter: string, type: string): Chunk | undefined {
    const i = this.#position++;
    let ended: Chunk | undefined;
    if (endOfChunk(this.#prevLetter, letter, this.#prevType, type)) {
      ended = [this.#prevType, this.#begin, i - 1];
    }
    if (startOfChunk(this.#prevLetter, letter, this.#prevType, type)) this.#begin = i;
    this.#prevLetter = letter;
    this.#prevType = type;
    return ended;
  }
}

/**
 * seqeval's `get_entities`: the chunks of one tag sequence, or of a list of sentences (positions then
 * count over the sentences joined with one `O` after each). Example: `getEntities(["B-PER", "I-PER", "O",
 * "B-LOC"])` is `[["PER", 0, 1], ["LOC", 3, 3]]`.
 */
export function getEntities(
  seq: readonly string[] | readonly (readonly string[])[],
  options: ChunkOptions = {},
): Chunk[] {
  const stream = new ChunkStream(options.suffix ?? false);
  const chunks: Chunk[] = [];
  const add = (c: Chunk | undefined) => {
    if (c !== undefined) chunks.push(c);
  };
  const nested = seq.some((s) => Array.isArray(s));
  if (nested) {
    for (const sentence of seq as readonly (readonly string[])[]) {
      for (const tag of sentence) add(stream.push(tag));
      add(stream.endSentence());
    }
  } else {
    for (const tag of seq as readonly string[]) add(stream.push(tag));
  }
  add(stream.finish());
  return chunks;
}
