/**
 * Character offsets for raw text, which `@huggingface/tokenizers` does not provide. The library's own
 * normalizer, pre-tokenizer and model do the tokenizing; this file only tracks positions, as the Rust
 * tokenizers' `NormalizedString` alignments do: every unit of the normalized string and of each pre-token
 * remembers the span of the original text it came from.
 * - Normalizers: Replace/Strip/Prepend work on the whole string; all others (BertNormalizer, NFKC,
 *   Precompiled, Lowercase, …) character by character.
 * - Pre-tokenizers, step by step: ByteLevel (each byte of a character keeps the character's span; an added
 *   prefix space takes the first character's), Metaspace (spaces become `▁`; a prepended `▁` takes the first
 *   character's span; `split` cuts before each `▁` as the Rust pre-tokenizer does), and the splitting ones
 *   (BERT, Whitespace, WhitespaceSplit, Punctuation, Digits, Split), whose pieces are located in order.
 * - Models: WordPiece pieces (`##` stripped; a lone `[UNK]` covers its word), BPE merges (suffixes,
 *   byte fallback, unknown fusing), Unigram pieces.
 * - Byte-level post-processing (`trim_offsets`): leading/trailing spaces are cut from each token's span,
 *   except the prefix space of the first token when `add_prefix_space` is set — transformers' offsets.
 * Word ids number the pre-tokens (after Metaspace splitting), as HF does for raw text.
 * @module
 */
import { DataError } from "./errors.ts";
import type { EncodeOptions, TextEncoding, WordTokenizer } from "./tokenizer.ts";

interface _Segment {
  start: number;
  end: number;
  addedId: number | null;
}

/** A string whose every UTF-16 unit knows its original span `[a[i], b[i])`. */
interface _Aligned {
  s: string;
  a: number[];
  b: number[];
}

type _Obj = Record<string, unknown>;
// deno-lint-ignore no-explicit-any
type _Lib = any;

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

function _slice(x: _Aligned, from: number, to: number): _Aligned {
  return { s: x.s.slice(from, to), a: x.a.slice(from, to), b: x.b.slice(from, to) };
}

function _concat(parts: _Aligned[]): _Aligned {
  return { s: parts.map((p) => p.s).join(""), a: parts.flatMap((p) => p.a), b: parts.flatMap((p) => p.b) };
}

/** `text` units each spanning `[a, b)`. */
function _uniform(text: string, a: number, b: number): _Aligned {
  return { s: text, a: new Array(text.length).fill(a), b: new Array(text.length).fill(b) };
}

/** Applies a library normalizer (its `config.type` says which) keeping alignments. */
function _normalize(n: _Lib, x: _Aligned): _Aligned {
  if (!n) return x;
  const type = (n.config as _Obj | undefined)?.type;
  if (type === "Sequence" && Array.isArray(n.normalizers)) {
    return (n.normalizers as _Lib[]).reduce((acc, m) => _normalize(m, acc), x);
  }
  if (type === "Replace") {
    if (!(n.pattern instanceof RegExp)) return x;
    const content = String((n.config as _Obj).content ?? "");
    const parts: _Aligned[] = [];
    let last = 0;
    for (const m of x.s.matchAll(new RegExp(n.pattern.source, n.pattern.flags))) {
      if (m[0].length === 0) continue;
      parts.push(_slice(x, last, m.index));
      parts.push(_uniform(content, x.a[m.index], x.b[m.index + m[0].length - 1]));
      last = m.index + m[0].length;
    }
    parts.push(_slice(x, last, x.s.length));
    return _concat(parts);
  }
  if (type === "Strip") {
    const c = n.config as _Obj;
    let from = 0;
    let to = x.s.length;
    if (c.strip_left) { while (from < to && /\s/u.test(x.s[from])) from++; }
    if (c.strip_right) { while (to > from && /\s/u.test(x.s[to - 1])) to--; }
    return _slice(x, from, to);
  }
  if (type === "Prepend") {
    if (x.s.length === 0) return x;
    return _concat([_uniform(String((n.config as _Obj).prepend ?? ""), x.a[0], x.b[0]), x]);
  }
  // character by character (code points)
  const parts: _Aligned[] = [];
  for (let i = 0; i < x.s.length;) {
    const w = x.s.codePointAt(i)! > 0xffff ? 2 : 1;
    parts.push(_uniform(n.normalize(x.s.slice(i, i + w)), x.a[i], x.b[i + w - 1]));
    i += w;
  }
  return _concat(parts);
}

/** GPT-2's byte → printable character table (the ByteLevel alphabet), and its inverse. */
const _BYTE_CHARS: string[] = (() => {
  const keep = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(keep(b) ? b : 256 + extra++);
  return out;
})();
const _CHAR_BYTES = new Map(_BYTE_CHARS.map((c, b) => [c, b]));

/** The text a byte-level pre-token stands for. */
function _unbyte(token: string): string {
  const bytes = Uint8Array.from(Array.from(token, (c) => _CHAR_BYTES.get(c) ?? 0x3f));
  return new TextDecoder().decode(bytes);
}

/** Locates `outs` one after another inside `x.s` (pieces of a splitting pre-tokenizer). */
function _locate(x: _Aligned, outs: string[], fail: (why: string) => Error): _Aligned[] {
  let cursor = 0;
  return outs.map((o) => {
    const at = x.s.indexOf(o, cursor);
    if (at < 0) throw fail(`pre-token ${JSON.stringify(o)} is not a substring of the normalized text`);
    cursor = at + o.length;
    return _slice(x, at, cursor);
  });
}

interface _PreCtx {
  sectionIndex: number;
  fail: (why: string) => Error;
}

/** One pre-tokenizer step (library object `p`, JSON config `c`) on one aligned piece. */
function _preTokenize(p: _Lib, c: _Obj, x: _Aligned, ctx: _PreCtx): _Aligned[] {
  if (!p || !c) return [x];
  if (c.type === "Sequence" && Array.isArray(c.pretokenizers)) {
    let pieces = [x];
    (c.pretokenizers as _Obj[]).forEach((cc, i) => {
      pieces = pieces.flatMap((piece) => _preTokenize(p.tokenizers?.[i], cc, piece, ctx));
    });
    return pieces;
  }
  const outs: string[] = p.pre_tokenize_text(x.s, { section_index: ctx.sectionIndex });
  if (c.type === "ByteLevel") {
    let text = x;
    if (p.add_prefix_space && !x.s.startsWith(" ") && x.s.length > 0) {
      text = _concat([_uniform(" ", x.a[0], x.b[0]), x]);
    }
    const plain = _locate(text, outs.map(_unbyte), ctx.fail);
    return plain.map((piece, k) => {
      // every UTF-8 byte of a character keeps the character's span
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < piece.s.length;) {
        const cp = piece.s.codePointAt(i)!;
        const w = cp > 0xffff ? 2 : 1;
        const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        for (let j = 0; j < n; j++) {
          a.push(piece.a[i]);
          b.push(piece.b[i + w - 1]);
        }
        i += w;
      }
      if (a.length !== outs[k].length) throw ctx.fail(`byte-level pre-token ${JSON.stringify(outs[k])}`);
      return { s: outs[k], a, b };
    });
  }
  if (c.type === "Metaspace") {
    const rep = String(p.replacement ?? "\u2581");
    const strRep = String(p.str_rep ?? rep);
    let y: _Aligned = { s: x.s.replaceAll(" ", strRep), a: x.a, b: x.b };
    if (strRep.length !== 1) throw ctx.fail("a Metaspace replacement of more than one unit");
    const scheme = p.prepend_scheme;
    if (
      !y.s.startsWith(rep) && y.s.length > 0 &&
      (scheme === "always" || (scheme === "first" && ctx.sectionIndex === 0))
    ) {
      y = _concat([_uniform(strRep, x.a[0], x.b[0]), y]);
    }
    if (y.s !== outs.join("")) throw ctx.fail("the Metaspace pre-tokenizer gave unexpected text");
    if (c.split === false) return [y];
    // MergedWithNext: each ▁ starts a new piece
    const pieces: _Aligned[] = [];
    let from = 0;
    for (let i = 1; i < y.s.length; i++) {
      if (y.s[i] === rep) {
        pieces.push(_slice(y, from, i));
        from = i;
      }
    }
    if (y.s.length) pieces.push(_slice(y, from, y.s.length));
    return pieces;
  }
  return _locate(x, outs, ctx.fail);
}

/** One model token: its id and the units `[from, to)` of its pre-token it covers. */
interface _Piece {
  id: number;
  from: number;
  to: number;
}

/** The model's tokens of one pre-token, with the units each covers. */
function _model(tokenizer: WordTokenizer, pre: string, fail: (why: string) => Error): _Piece[] {
  const m: _Lib = tokenizer.library.model;
  const out: _Piece[] = [];
  if (tokenizer.modelType === "WordPiece") {
    const pieces: string[] = m([pre]);
    if (pieces.length === 1 && pieces[0] === tokenizer.unkToken && pre !== tokenizer.unkToken) {
      return [{ id: tokenizer.unkId, from: 0, to: pre.length }];
    }
    let p = 0;
    pieces.forEach((piece, k) => {
      const prefix = tokenizer.continuingSubwordPrefix;
      const surface = k > 0 && piece.startsWith(prefix) ? piece.slice(prefix.length) : piece;
      if (!pre.startsWith(surface, p) || surface.length === 0) {
        throw fail(`piece ${JSON.stringify(piece)} does not match its pre-token`);
      }
      out.push({ id: tokenizer.tokenToId(piece) ?? tokenizer.unkId, from: p, to: p + surface.length });
      p += surface.length;
    });
    return out;
  }
  if (tokenizer.modelType === "Unigram") {
    let p = 0;
    for (const piece of m([pre]) as string[]) { // surfaces (unknown runs fused)
      if (!pre.startsWith(piece, p) || piece.length === 0) {
        throw fail(`piece ${JSON.stringify(piece)} does not match its pre-token`);
      }
      out.push({ id: tokenizer.tokenToId(piece) ?? tokenizer.unkId, from: p, to: p + piece.length });
      p += piece.length;
    }
    return out;
  }
  // BPE: the merges give the surfaces; the vocabulary, byte fallback or unk give the ids
  const ids: Map<string, number> = m.tokens_to_ids;
  const merged: string[] = m.ignore_merges && ids.has(pre) ? [pre] : m.bpe(pre);
  const eow = String(m.end_of_word_suffix ?? "");
  const cont = String(m.continuing_subword_suffix ?? "");
  let p = 0;
  merged.forEach((token, k) => {
    let len = token.length;
    if (eow && k === merged.length - 1 && token.endsWith(eow)) len -= eow.length;
    if (cont && k < merged.length - 1 && token.endsWith(cont)) len -= cont.length;
    const span = { from: p, to: p + len };
    p += len;
    const id = ids.get(token);
    if (id !== undefined) return out.push({ id, ...span });
    if (m.byte_fallback) {
      const bytes = Array.from(
        new TextEncoder().encode(token),
        (x) => `<0x${x.toString(16).toUpperCase().padStart(2, "0")}>`,
      );
      if (bytes.every((x) => ids.has(x))) {
        for (const x of bytes) out.push({ id: ids.get(x)!, ...span });
        return;
      }
    }
    if (m.unk_token == null) return;
    const last = out[out.length - 1];
    if (m.fuse_unk && last && last.id === tokenizer.unkId && last.to === span.from) last.to = span.to;
    else out.push({ id: tokenizer.unkId, ...span });
  });
  if (p !== pre.length) throw fail(`BPE pieces of ${JSON.stringify(pre)} do not cover it`);
  return out;
}

/** transformers' byte-level `process_offsets` (trim_offsets): spaces cut from each token's span. */
function _trimOffsets(tokens: string[], offsets: [number, number][], addPrefixSpace: boolean): void {
  const isSpace = (c: string) => c === "\u0120" || /\s/u.test(c);
  offsets.forEach((o, i) => {
    const chars = Array.from(tokens[i]);
    let lead = 0;
    while (lead < chars.length && isSpace(chars[lead])) lead++;
    let trail = 0;
    while (trail < chars.length && isSpace(chars[chars.length - 1 - trail])) trail++;
    if (lead > 0) {
      const isFirst = i === 0 || o[0] === 0;
      if (!(isFirst && addPrefixSpace && lead === 1)) o[0] = Math.min(o[0] + lead, o[1]);
    }
    if (trail > 0 && o[1] >= trail) o[1] = Math.max(o[1] - trail, o[0]);
  });
}

/**
 * Encodes raw text into tokens with offsets into `text` (see {@linkcode TextEncoding}). Word ids number the
 * pre-tokens (BERT: each run of letters/digits and each punctuation character; byte-level BPE: each regex
 * piece such as `Ġworld`; Metaspace: each `▁`-started piece), as HF does for raw text. Prefer
 * {@linkcode WordTokenizer.encodeText}, which calls this.
 */
export function encodeTextWithOffsets(
  tokenizer: WordTokenizer,
  text: string,
  options: EncodeOptions = {},
): TextEncoding {
  const lib: _Lib = tokenizer.library;
  const added = [...tokenizer.library.get_added_tokens_decoder()]
    .map(([id, token]) => ({ id, content: token.content }))
    .sort((a, b) => b.content.length - a.content.length);
  const ids: number[] = [];
  const wordIds: number[] = [];
  const offsets: [number, number][] = [];
  let word = 0;
  const fail = (reason: string) =>
    new DataError({ file: tokenizer.source }, `cannot compute offsets: ${reason}`);
  let sectionIndex = 0;
  for (const segment of _splitAddedTokens(text, added)) {
    if (segment.addedId !== null) {
      ids.push(segment.addedId);
      wordIds.push(word++);
      offsets.push([segment.start, segment.end]);
      sectionIndex++;
      continue;
    }
    const original = text.slice(segment.start, segment.end);
    const start: _Aligned = {
      s: original,
      a: Array.from({ length: original.length }, (_, i) => segment.start + i),
      b: Array.from({ length: original.length }, (_, i) => segment.start + i + 1),
    };
    const normalized = _normalize(lib.normalizer, start);
    if (normalized.s !== (lib.normalizer ? lib.normalizer(original) : original)) {
      throw fail("the normalizer does not work character by character");
    }
    const ctx = { sectionIndex: sectionIndex++, fail };
    const preJson = tokenizer._preTokenizerJson;
    const preTokens = lib.pre_tokenizer && preJson
      ? _preTokenize(lib.pre_tokenizer, preJson, normalized, ctx)
      : [
        normalized,
      ];
    for (const pre of preTokens) {
      if (pre.s.length === 0) continue;
      for (const piece of _model(tokenizer, pre.s, fail)) {
        ids.push(piece.id);
        wordIds.push(word);
        offsets.push([pre.a[piece.from], pre.b[piece.to - 1]]);
      }
      word++;
    }
  }
  if (tokenizer.pipeline.trimOffsets) {
    _trimOffsets(tokenizer.convertIdsToTokens(ids), offsets, tokenizer.pipeline.postAddPrefixSpace);
  }
  return tokenizer._assembleWithOffsets(ids, wordIds, offsets, options);
}
