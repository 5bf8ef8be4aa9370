/**
 * The training curve as a standalone SVG: training loss per logged step (left axis) and evaluation F1 (or
 * accuracy) per evaluation (right axis, 0–1), with axes, ticks and a legend, viewable in any browser.
 * @module
 */
import type { LogEntry } from "./checkpoint.ts";

function _esc(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}

function _niceMax(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((v) => v >= x)!;
}

/** Renders the curve from HF-style log history entries (`loss` + `step`, `eval_f1`/`eval_accuracy`). */
export function trainingCurveSvg(history: readonly LogEntry[], title = "Training curve"): string {
  const W = 720, H = 400, L = 60, R = 60, T = 40, B = 50;
  const loss = history.filter((e) => typeof e.loss === "number").map((e) => [Number(e.step), Number(e.loss)]);
  const metricKey = history.some((e) => typeof e.eval_f1 === "number") ? "eval_f1" : "eval_accuracy";
  const metric = history.filter((e) => typeof e[metricKey] === "number").map((
    e,
  ) => [Number(e.step), Number(e[metricKey])]);
  const maxStep = Math.max(1, ...loss.map((p) => p[0]), ...metric.map((p) => p[0]));
  const maxLoss = _niceMax(Math.max(0, ...loss.map((p) => p[1])));
  const x = (s: number) => L + (W - L - R) * s / maxStep;
  const yl = (v: number) => H - B - (H - T - B) * v / maxLoss;
  const ym = (v: number) => H - B - (H - T - B) * v;
  const path = (pts: number[][], y: (v: number) => number) =>
    pts.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${_esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${W - R}" y1="${T}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">step</text>`,
    `<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${
      (T + H - B) / 2
    })" fill="#1f77b4">training loss</text>`,
    `<text x="${W - 14}" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(90 ${W - 14} ${
      (T + H - B) / 2
    })" fill="#d62728">${metricKey}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const s = Math.round(maxStep * i / 5), v = maxLoss * i / 5, m = i / 5;
    parts.push(
      `<text x="${x(s)}" y="${H - B + 16}" text-anchor="middle">${s}</text>`,
      `<text x="${L - 6}" y="${yl(v) + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`,
      `<text x="${W - R + 6}" y="${ym(m) + 4}">${m.toFixed(1)}</text>`,
      `<line x1="${L}" y1="${ym(m)}" x2="${W - R}" y2="${ym(m)}" stroke="#eee"/>`,
    );
  }
  if (loss.length) parts.push(`<path d="${path(loss, yl)}" fill="none" stroke="#1f77b4" stroke-width="2"/>`);
  if (metric.length) {
    parts.push(`<path d="${path(metric, ym)}" fill="none" stroke="#d62728" stroke-width="2"/>`);
    for (const p of metric) parts.push(`<circle cx="${x(p[0])}" cy="${ym(p[1])}" r="3.5" fill="#d62728"/>`);
  }
  parts.push(
    `<rect x="${L + 10}" y="${T + 4}" width="150" height="40" fill="white" stroke="#ccc"/>`,
    `<line x1="${L + 18}" y1="${T + 18}" x2="${L + 38}" y2="${T + 18}" stroke="#1f77b4" stroke-width="2"/>`,
    `<text x="${L + 44}" y="${T + 22}">training loss</text>`,
    `<line x1="${L + 18}" y1="${T + 34}" x2="${L + 38}" y2="${T + 34}" stroke="#d62728" stroke-width="2"/>`,
    `<text x="${L + 44}" y="${T + 38}">${metricKey}</text>`,
    `</svg>`,
  );
  return parts.join("\n") + "\n";
}
