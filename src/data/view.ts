/**
 * The course's two-line view: words over their labels, each column padded to the wider of the two.
 * @module
 */

/**
 * Lays out two rows of cells in aligned columns (the course's `line1`/`line2` printing), e.g.
 * `EU    rejects German` over `B-ORG O       B-MISC`. Column width is the longer cell (in code points);
 * trailing spaces are trimmed.
 */
export function alignColumns(top: readonly string[], bottom: readonly string[]): [string, string] {
  if (top.length !== bottom.length) throw new RangeError(`${top.length} cells over ${bottom.length} cells`);
  let line1 = "";
  let line2 = "";
  const width = (s: string) => [...s].length;
  for (let i = 0; i < top.length; i++) {
    const w = Math.max(width(top[i]), width(bottom[i]));
    line1 += top[i] + " ".repeat(w - width(top[i]) + 1);
    line2 += bottom[i] + " ".repeat(w - width(bottom[i]) + 1);
  }
  return [line1.trimEnd(), line2.trimEnd()];
}

/** Names for aligned label ids, with ignored positions (-100) shown as `-100`. */
export function labelCells(labels: ArrayLike<number>, names: readonly string[]): string[] {
  return Array.from(labels, (id) => (id >= 0 && id < names.length ? names[id] : String(id)));
}
