/**
 * Character offsets for raw text, which `@huggingface/tokenizers` does not provide. The library's own
 * normalizer, pre-tokenizer and WordPiece model do the tokenizing; this file only tracks positions: the text
 * is normalized one character at a time (remembering which original character each normalized character
 * came from), the library's pre-tokens are located in the normalized string, and WordPiece pieces are walked
 * inside each pre-token (a lone `[UNK]` covers its whole pre-token).
 * @module
 */
import { DataError } from "./errors.ts";
import type { EncodeOptions, TextEncoding, WordTokenizer } from "./tokenizer.ts";

interface _Segment {
  start: number;
  end: number;
  addedId: number | null;
}

/** Splits text around added tokens (`[CLS]`, `[MASK]`, ...), longest match first, as the library does. */
function _splitAddedTokens(text: string, added: readonly { content: string; id: number }[]): _Segment[] {
  const segments: _Segment[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const match = added.find((a) => a.content.length > 0 && text.startsWith(a.content, i));
    if (match) {
      if (i > start) segments.push({ start, end: i, addedId: null });
      segments.push({ start: i, end: i + match.content.length, addedId: match.id });
      i += match.content.length;
      start = i;
    } else {
      i++;
    }
  }
  if (start < text.length) segments.push({ start, end: text.length, addedId: null });
  return segments;
}

/**
 * Encodes raw text into tokens with offsets into `text` (see {@linkcode TextEncoding}). Word ids number the
 * pre-tokens (BERT: each run of letters/digits and each punctuation character is a word), as HF does for
 * raw text. Prefer {@linkcode WordTokenizer.encodeText}, which calls this.
 */
export function encodeTextWithOffsets(
  tokenizer: WordTokenizer,
  text: string,
  options: EncodeOptions = {},
): TextEncoding {
  const lib = tokenizer.library;
  const added = [...lib.get_added_tokens_decoder()]
    .map(([id, token]) => ({ id, content: token.content }))
    .sort((a, b) => b.content.length - a.content.length);
  const ids: number[] = [];
  const wordIds: number[] = [];
  const offsets: [number, number][] = [];
  let word = 0;
  const fail = (reason: string) =>
    new DataError({ file: tokenizer.source }, `cannot compute offsets: ${reason}`);
  for (const segment of _splitAddedTokens(text, added)) {
    if (segment.addedId !== null) {
      ids.push(segment.addedId);
      wordIds.push(word++);
      offsets.push([segment.start, segment.end]);
      continue;
    }
    // Normalize one code point at a time, recording the original span of each normalized UTF-16 unit.
    const starts: number[] = [];
    const ends: number[] = [];
    const parts: string[] = [];
    for (let i = segment.start; i < segment.end;) {
      const width = text.codePointAt(i)! > 0xffff ? 2 : 1;
      const original = text.slice(i, i + width);
      const normalized = lib.normalizer ? lib.normalizer(original) : original;
      for (let k = 0; k < normalized.length; k++) {
        starts.push(i);
        ends.push(i + width);
      }
      parts.push(normalized);
      i += width;
    }
    const normalized = parts.join("");
    const original = text.slice(segment.start, segment.end);
    if (normalized !== (lib.normalizer ? lib.normalizer(original) : original)) {
      throw fail("the normalizer does not work character by character");
    }
    const preTokens: string[] = lib.pre_tokenizer ? lib.pre_tokenizer(normalized) : [normalized];
    let cursor = 0;
    for (const pre of preTokens) {
      const at = normalized.indexOf(pre, cursor);
      if (at < 0) throw fail(`pre-token ${JSON.stringify(pre)} is not a substring of the normalized text`);
      cursor = at + pre.length;
      const pieces: string[] = lib.model!([pre]);
      if (pieces.length === 1 && pieces[0] === tokenizer.unkToken && pre !== tokenizer.unkToken) {
        ids.push(tokenizer.unkId);
        wordIds.push(word);
        offsets.push([starts[at], ends[at + pre.length - 1]]);
      } else {
        let p = at;
        pieces.forEach((piece, k) => {
          const prefix = tokenizer.continuingSubwordPrefix;
          const surface = k > 0 && piece.startsWith(prefix) ? piece.slice(prefix.length) : piece;
          if (!normalized.startsWith(surface, p) || surface.length === 0) {
            throw fail(
              `piece ${JSON.stringify(piece)} does not match the text at ${starts[p] ?? text.length}`,
            );
          }
          ids.push(tokenizer.tokenToId(piece) ?? tokenizer.unkId);
          wordIds.push(word);
          offsets.push([starts[p], ends[p + surface.length - 1]]);
          p += surface.length;
        });
      }
      word++;
    }
  }
  return tokenizer._assembleWithOffsets(ids, wordIds, offsets, options);
}
