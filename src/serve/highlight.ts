/**
 * Entities highlighted in their text as HTML, as the Hub's token-classification widget shows them: each
 * span `text.slice(start, end)` wrapped in a `<mark>` carrying its label and score, the rest escaped. The
 * functions use nothing outside themselves, so pages can embed their source (`highlightHtml.toString()`).
 * @module
 */

/** An entity as the pipeline returns it (grouped or per token). */
export interface HighlightEntity {
  entity_group?: string;
  entity?: string;
  score: number;
  start: number;
  end: number;
  word?: string;
}

/**
 * HTML for `text` with each entity wrapped in `<mark class="ent ent-LABEL" data-start data-end data-label
 * data-score>` followed by a `<span class="ent-label">LABEL 0.99</span>` badge. Overlapping or
 * out-of-order spans are skipped (the pipeline never returns them).
 */
export function highlightHtml(text: string, entities: readonly HighlightEntity[]): string {
  const esc = (s: string) =>
    s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const sorted = [...entities].sort((a, b) => a.start - b.start);
  let out = "";
  let at = 0;
  for (const e of sorted) {
    if (e.start < at || e.end <= e.start || e.end > text.length) continue;
    const label = String(e.entity_group ?? e.entity ?? "");
    const kind = label.replace(/^[BI]-/, "").replace(/[^A-Za-z0-9_-]/g, "");
    out += esc(text.slice(at, e.start));
    out += `<mark class="ent ent-${kind}" data-start="${e.start}" data-end="${e.end}" data-label="${
      esc(label)
    }" data-score="${e.score}">${esc(text.slice(e.start, e.end))}<span class="ent-label">${esc(label)} ${
      e.score.toFixed(3)
    }</span></mark>`;
    at = e.end;
  }
  return out + esc(text.slice(at));
}

/** CSS for {@link highlightHtml}'s marks (one colour per CoNLL type, grey for others). */
export const HIGHLIGHT_CSS = `
mark.ent { padding: 0.1em 0.25em; border-radius: 0.3em; background: #e5e7eb; line-height: 2; }
mark.ent-PER { background: #fde68a; } mark.ent-ORG { background: #bfdbfe; }
mark.ent-LOC { background: #bbf7d0; } mark.ent-MISC { background: #fbcfe8; }
mark.ent .ent-label { font-size: 0.7em; font-weight: 600; margin-left: 0.3em; color: #374151; }
`;
