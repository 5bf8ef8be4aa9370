/**
 * The CoNLL shared-task scorer `conlleval` (conlleval.pl, version 2004-01-26): its input format, its
 * phrase counting and its report, reproduced line for line in behaviour.
 *
 * Input: one token per line, whitespace-separated columns whose last two are the gold and the predicted
 * tag; a blank line (or a line whose first column is `-X-`) separates sentences; `-DOCSTART-` lines are
 * treated as sentence breaks. conlleval's chunk rules are its own (it knows `[`/`]` and the IOB/IOE
 * letters but not `S`), so on unusual tags its phrase counts may differ from seqeval's default mode; on
 * IOB1/IOB2 data the two agree.
 * @module
 */

import { compareCodePoints, formatFixed } from "./numeric.ts";

/** One input line as conlleval sees it: a token with its two tags, or a sentence break. */
export interface ConllevalRow {
  /** Gold tag (for a break: `O`). */
  gold: string;
  /** Predicted tag (for a break: `O`). */
  guess: string;
  /** True for a sentence break. */
  boundary: boolean;
  /** 1-based line number in the input (0 for rows made up from sentences). */
  line: number;
}

/** Options of the conlleval command. */
export interface ConllevalParseOptions {
  /** Column separator; default: any run of whitespace. */
  delimiter?: string;
  /** `-r`: tags are raw types without B-/I- (every non-`O` token is its own phrase). */
  raw?: boolean;
  /** `-o`: the outside tag used in raw input (default `O`). */
  oTag?: string;
}

/** Parsed conlleval input: the rows for the conlleval counts and the sentences for seqeval. */
export interface ConllevalInput {
  /** Every line as conlleval processes it, sentence breaks included. */
  rows: ConllevalRow[];
  /** Gold tags per sentence (empty sentences dropped). */
  references: string[][];
  /** Predicted tags per sentence. */
  predictions: string[][];
}

/** Per-type phrase counts. */
export interface ConllevalTypeCounts {
  /** Phrases of this type in the gold tags. */
  foundCorrect: number;
  /** Phrases of this type in the predicted tags. */
  foundGuessed: number;
  /** Predicted phrases that match a gold phrase exactly (span and type). */
  correctChunk: number;
}

/** Everything conlleval counts. */
export interface ConllevalCounts extends ConllevalTypeCounts {
  /** Tokens processed (sentence breaks excluded). */
  tokens: number;
  /** Tokens whose gold and predicted tags agree. */
  correctTags: number;
  /** Per type, in conlleval's (code point) order. */
  types: Map<string, ConllevalTypeCounts>;
}

const _BOUNDARY = "-X-";
const _DOCSTART = "-DOCSTART-";

/**
 * Parses conlleval input. Throws with the line number when a line has fewer than two columns or a
 * different number of columns than the first token line.
 */
export function parseConllevalInput(text: string, options: ConllevalParseOptions = {}): ConllevalInput {
  const raw = options.raw ?? false;
  const oTag = options.oTag ?? "O";
  const rows: ConllevalRow[] = [];
  const references: string[][] = [];
  const predictions: string[][] = [];
  let gold: string[] = [];
  let guess: string[] = [];
  let columns = -1;
  let columnsLine = 0;
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const endSentence = () => {
    if (gold.length > 0) {
      references.push(gold);
      predictions.push(guess);
      gold = [];
      guess = [];
    }
  };
  lines.forEach((rawLine, index) => {
    const lineNo = index + 1;
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    const features = _split(line, options.delimiter);
    if (features.length === 0 || features[0] === _BOUNDARY || features[0] === _DOCSTART) {
      if (features.length > 0 && features[0] !== _DOCSTART) _checkColumns(features.length, lineNo);
      rows.push({ gold: "O", guess: "O", boundary: true, line: lineNo });
      endSentence();
      return;
    }
    _checkColumns(features.length, lineNo);
    let g = features[features.length - 2];
    let p = features[features.length - 1];
    if (raw) {
      g = g === oTag ? "O" : g;
      p = p === oTag ? "O" : p;
      if (g !== "O") g = `B-${g}`;
      if (p !== "O") p = `B-${p}`;
    }
    rows.push({ gold: g, guess: p, boundary: false, line: lineNo });
    gold.push(g);
    guess.push(p);
  });
  endSentence();
  return { rows, references, predictions };

  function _checkColumns(n: number, lineNo: number): void {
    if (n < 2) {
      throw new SyntaxError(
        `line ${lineNo}: expected at least 2 columns (gold tag, predicted tag), found ${n}`,
      );
    }
    if (columns < 0) {
      columns = n;
      columnsLine = lineNo;
    } else if (n !== columns) {
      throw new SyntaxError(
        `line ${lineNo}: expected ${columns} columns (as on line ${columnsLine}), found ${n}`,
      );
    }
  }
}

function _split(line: string, delimiter: string | undefined): string[] {
  if (delimiter === undefined) {
    const t = line.trim();
    return t === "" ? [] : t.split(/\s+/);
  }
  if (line === "") return [];
  const parts = line.split(delimiter);
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop(); // as Perl's split
  return parts;
}

/** Rows for sentences given as tag lists: the tokens of each sentence followed by a break. */
export function rowsFromSentences(
  references: readonly (readonly string[])[],
  predictions: readonly (readonly string[])[],
): ConllevalRow[] {
  if (references.length !== predictions.length) {
    throw new RangeError(
      `references has ${references.length} sequences but predictions has ${predictions.length}`,
    );
  }
  const rows: ConllevalRow[] = [];
  references.forEach((gold, s) => {
    const guess = predictions[s];
    if (gold.length !== guess.length) {
      throw new RangeError(
        `sequence ${s}: references has ${gold.length} tags but predictions has ${guess.length}`,
      );
    }
    gold.forEach((g, i) => rows.push({ gold: g, guess: guess[i], boundary: false, line: 0 }));
    rows.push({ gold: "O", guess: "O", boundary: true, line: 0 });
  });
  return rows;
}

/** Splits a tag at its first `-` into conlleval's chunk tag and type (a type "0" reads as none, as in Perl). */
function _splitTag(tag: string): [string, string] {
  const dash = tag.indexOf("-");
  if (dash < 0) return [tag, ""];
  const type = tag.slice(dash + 1);
  return [tag.slice(0, dash), type === "0" ? "" : type];
}

function _endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if ((prevTag === "B" || prevTag === "I") && (tag === "B" || tag === "O")) return true;
  if (prevTag === "E" && (tag === "E" || tag === "I" || tag === "O")) return true;
  if (prevTag !== "O" && prevTag !== "." && prevType !== type) return true;
  return prevTag === "]" || prevTag === "[";
}

function _startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if ((prevTag === "B" || prevTag === "I" || prevTag === "O") && tag === "B") return true;
  if (prevTag === "O" && (tag === "I" || tag === "E")) return true;
  if (prevTag === "E" && (tag === "E" || tag === "I")) return true;
  if (tag !== "O" && tag !== "." && prevType !== type) return true;
  return tag === "[" || tag === "]";
}

/** Counts tokens and phrases over `rows` exactly as conlleval.pl does. */
export function conllevalCounts(rows: Iterable<ConllevalRow>): ConllevalCounts {
  const types = new Map<string, ConllevalTypeCounts>();
  const of = (t: string) => {
    let c = types.get(t);
    if (c === undefined) types.set(t, c = { foundCorrect: 0, foundGuessed: 0, correctChunk: 0 });
    return c;
  };
  let correctChunk = 0, foundCorrect = 0, foundGuessed = 0, correctTags = 0, tokens = 0;
  let inCorrect = false;
  let lastCorrect = "O", lastCorrectType = "", lastGuessed = "O", lastGuessedType = "";
  for (const row of rows) {
    const [correct, correctType] = _splitTag(row.gold);
    let [guessed, guessedType] = _splitTag(row.guess);
    if (row.boundary) guessed = "O";
    const endC = _endOfChunk(lastCorrect, correct, lastCorrectType, correctType);
    const endG = _endOfChunk(lastGuessed, guessed, lastGuessedType, guessedType);
    if (inCorrect) {
      if (endC && endG && lastGuessedType === lastCorrectType) {
        inCorrect = false;
        correctChunk++;
        of(lastCorrectType).correctChunk++;
      } else if (endC !== endG || guessedType !== correctType) {
        inCorrect = false;
      }
    }
    const startC = _startOfChunk(lastCorrect, correct, lastCorrectType, correctType);
    const startG = _startOfChunk(lastGuessed, guessed, lastGuessedType, guessedType);
    if (startC && startG && guessedType === correctType) inCorrect = true;
    if (startC) {
      foundCorrect++;
      of(correctType).foundCorrect++;
    }
    if (startG) {
      foundGuessed++;
      of(guessedType).foundGuessed++;
    }
    if (!row.boundary) {
      if (correct === guessed && guessedType === correctType) correctTags++;
      tokens++;
    }
    lastGuessed = guessed;
    lastCorrect = correct;
    lastGuessedType = guessedType;
    lastCorrectType = correctType;
  }
  if (inCorrect) {
    correctChunk++;
    of(lastCorrectType).correctChunk++;
  }
  const sorted = new Map([...types.entries()].sort((a, b) => compareCodePoints(a[0], b[0])));
  return { tokens, correctTags, foundCorrect, foundGuessed, correctChunk, types: sorted };
}

/** Precision, recall and FB1 in percent, as conlleval computes them (0 where undefined). */
export function conllevalScores(c: ConllevalTypeCounts): { precision: number; recall: number; fb1: number } {
  const precision = c.foundGuessed > 0 ? (100 * c.correctChunk) / c.foundGuessed : 0;
  const recall = c.foundCorrect > 0 ? (100 * c.correctChunk) / c.foundCorrect : 0;
  const fb1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, fb1 };
}

function _pct(x: number): string {
  return formatFixed(x, 2).padStart(6);
}

/** conlleval's text report for `counts`, byte for byte (ending with a newline). */
export function formatConllevalReport(counts: ConllevalCounts): string {
  let out = `processed ${counts.tokens} tokens with ${counts.foundCorrect} phrases; ` +
    `found: ${counts.foundGuessed} phrases; correct: ${counts.correctChunk}.\n`;
  if (counts.tokens > 0) {
    const o = conllevalScores(counts);
    out +=
      `accuracy: ${_pct((100 * counts.correctTags) / counts.tokens)}%; precision: ${_pct(o.precision)}%; ` +
      `recall: ${_pct(o.recall)}%; FB1: ${_pct(o.fb1)}\n`;
  }
  for (const [type, c] of counts.types) {
    const s = conllevalScores(c);
    const name = " ".repeat(Math.max(0, 17 - [...type].length)) + type;
    const line =
      `${name}: precision: ${_pct(s.precision)}%; recall: ${_pct(s.recall)}%; FB1: ${_pct(s.fb1)}  ` +
      `${c.foundGuessed}\n`;
    // conlleval.pl de-duplicates the sorted type list with `not($lastType) or ...`, which lets the empty
    // type (phrases without a type) through twice when it occurs in both the gold and the guesses.
    out += type === "" && c.foundCorrect > 0 && c.foundGuessed > 0 ? line + line : line;
  }
  return out;
}

/**
 * Scores tag sequences with conlleval (each sentence followed by a break) and returns its report text.
 */
export function conlleval(
  references: readonly (readonly string[])[],
  predictions: readonly (readonly string[])[],
): string {
  return formatConllevalReport(conllevalCounts(rowsFromSentences(references, predictions)));
}
