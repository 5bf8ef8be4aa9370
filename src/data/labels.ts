/**
 * Label-name helpers shared by the loaders and the alignment: a stable order for collected tag sets and the
 * name → id lookup.
 * @module
 */

const _PREFIX_RANK: Record<string, number> = { B: 0, I: 1, E: 2, S: 3, L: 4, U: 5 };
const _PREFIXED = /^([BIESLU])-(.+)$/;

/**
 * Sorts collected tag names into a stable, data-order-independent order: `O` first, then prefixed tags
 * (`B-`, `I-`, `E-`, `S-`, `L-`, `U-`) grouped by entity type (types in code-point order, prefixes in that
 * order), then any other names in code-point order. Duplicates are removed.
 *
 * For example the CoNLL NER tags sort as `O, B-LOC, I-LOC, B-MISC, I-MISC, B-ORG, I-ORG, B-PER, I-PER`.
 */
export function sortLabelNames(names: Iterable<string>): string[] {
  const key = (name: string): [number, string, number] => {
    if (name === "O") return [0, "", 0];
    const m = _PREFIXED.exec(name);
    return m ? [1, m[2], _PREFIX_RANK[m[1]]] : [2, name, 0];
  };
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...new Set(names)].sort((a, b) => {
    const ka = key(a), kb = key(b);
    return ka[0] - kb[0] || cmp(ka[1], kb[1]) || ka[2] - kb[2];
  });
}

/** A name → class-id map for a list of label names. Throws on duplicate names. */
export function labelIndex(names: readonly string[]): Map<string, number> {
  const index = new Map<string, number>();
  names.forEach((name, i) => {
    if (index.has(name)) throw new Error(`duplicate label name "${name}" (ids ${index.get(name)} and ${i})`);
    index.set(name, i);
  });
  return index;
}
