/**
 * Text tables in the layout of seqeval's and scikit-learn's `classification_report`.
 * @module
 */

import { formatFixed } from "./numeric.ts";
import type { Scores, ScoreTable } from "./scores.ts";

function _pad(s: string, width: number): string {
  const len = [...s].length; // Python pads by code points
  return len >= width ? s : " ".repeat(width - len) + s;
}

function _row(name: string, s: Scores, width: number, digits: number): string {
  const f = (x: number) => " " + _pad(formatFixed(x, digits), 9);
  return `${_pad(name, width)} ${f(s.precision)}${f(s.recall)}${f(s.f1)} ${_pad(String(s.support), 9)}`;
}

function _header(width: number): string {
  return " ".repeat(width) + " " +
    ["precision", "recall", "f1-score", "support"].map((h) => " " + _pad(h, 9)).join("");
}

/**
 * Formats a {@link ScoreTable} exactly as seqeval's `classification_report(..., digits)` prints it: a
 * header, one row per class, then micro, macro and weighted averages, with a trailing newline.
 */
export function formatSeqevalReport(table: ScoreTable, digits = 2): string {
  const names = table.classes.map((c) => c.name);
  const width = Math.max(...names.map((n) => [...n].length), "weighted avg".length, digits);
  const lines = table.classes.map((c) => _row(c.name, c, width, digits));
  lines.push("");
  lines.push(_row("micro avg", table.micro, width, digits));
  lines.push(_row("macro avg", table.macro, width, digits));
  lines.push(_row("weighted avg", table.weighted, width, digits));
  lines.push("");
  return _header(width) + "\n\n" + lines.join("\n");
}

/**
 * Formats token-level scores the way scikit-learn's `classification_report` does for single-label
 * multi-class data: rows per tag, then an `accuracy` row (F1 column only) and macro and weighted averages.
 */
export function formatTokenReport(table: ScoreTable, accuracy: number, tokens: number, digits = 2): string {
  const names = table.classes.map((c) => c.name);
  const width = Math.max(...names.map((n) => [...n].length), "weighted avg".length, digits);
  const lines = table.classes.map((c) => _row(c.name, c, width, digits));
  lines.push("");
  lines.push(
    `${_pad("accuracy", width)} ${" ".repeat(20)}${" " + _pad(formatFixed(accuracy, digits), 9)} ${
      _pad(String(tokens), 9)
    }`,
  );
  lines.push(_row("macro avg", table.macro, width, digits));
  lines.push(_row("weighted avg", table.weighted, width, digits));
  return _header(width) + "\n\n" + lines.join("\n") + "\n";
}
