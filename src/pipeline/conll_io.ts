/**
 * Pre-split input for `deno task predict --format conll`: one token per line (its first column when the
 * line has several, so CoNLL-2003 files work as they are), blank lines between sentences, `-DOCSTART-`
 * lines kept as document markers; and the `token tag` output.
 * @module
 */

/** A sentence of pre-split input, or a document marker line. */
export interface ConllInputSentence {
  /** The words (first column of each line); empty for a document marker. */
  words: string[];
  /** The input lines, without line ends. */
  lines: string[];
  /** True for a `-DOCSTART-` line (passed through with tag `O`). */
  docstart: boolean;
}

/** Splits pre-split input into sentences (blank lines separate them; `-DOCSTART-` lines stand alone). */
export function parseConllInput(text: string): ConllInputSentence[] {
  const out: ConllInputSentence[] = [];
  let current: ConllInputSentence | null = null;
  const close = () => {
    if (current) out.push(current);
    current = null;
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[ \t]+$/, "");
    const word = line.trim().split(/[ \t]+/)[0];
    if (word === "") close();
    else if (word === "-DOCSTART-") {
      close();
      out.push({ words: [], lines: [line], docstart: true });
    } else {
      current ??= { words: [], lines: [], docstart: false };
      current.words.push(word);
      current.lines.push(line);
    }
  }
  close();
  return out;
}

/**
 * Output lines: `token tag` per word (or the whole input line then the tag with `keepColumns`), a blank
 * line after every sentence and document marker.
 */
export function formatConll(
  sentences: readonly ConllInputSentence[],
  tags: readonly (readonly string[])[],
  keepColumns = false,
): string {
  const lines: string[] = [];
  sentences.forEach((s, i) => {
    if (s.docstart) lines.push(keepColumns ? `${s.lines[0]} O` : "-DOCSTART- O");
    else s.words.forEach((w, j) => lines.push(`${keepColumns ? s.lines[j] : w} ${tags[i][j]}`));
    lines.push("");
  });
  return lines.map((l) => l + "\n").join("");
}
