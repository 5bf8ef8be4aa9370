/**
 * The widget page of `deno task serve` (`GET /`): a text box whose text is POSTed to the server with the
 * Inference API's shape, and the answer shown highlighted (labels and scores) as the Hub's widget does.
 * @module
 */
import { HIGHLIGHT_CSS, highlightHtml } from "./highlight.ts";

/** The HTML of the widget page for the model `name`, posting to `endpoint` (default `/`). */
export function widgetPage(name: string, endpoint = "/"): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(name)} — token classification</title>
<style>
body { font: 16px system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; color: #111827; }
textarea { width: 100%; height: 5rem; font: inherit; } button { font: inherit; padding: 0.3rem 1rem; }
#output { margin-top: 1rem; white-space: pre-wrap; } #error { color: #b91c1c; }
table { border-collapse: collapse; margin-top: 1rem; } td, th { padding: 0.2rem 0.6rem; border-bottom: 1px solid #e5e7eb; }
${HIGHLIGHT_CSS}
</style></head>
<body>
<h1>Token classification</h1>
<p>Model: <code>${esc(name)}</code></p>
<textarea id="input">My name is Sylvain and I work at Hugging Face in Brooklyn.</textarea>
<p><label>aggregation <select id="strategy"><option>simple</option><option>first</option><option>average</option>
<option>max</option><option>none</option></select></label> <button id="compute">Compute</button></p>
<div id="error"></div><div id="output"></div><table id="table"></table>
<script type="module">
const highlightHtml = ${highlightHtml.toString()};
const input = document.getElementById("input"), output = document.getElementById("output");
async function compute() {
  const text = input.value;
  document.getElementById("error").textContent = "";
  const res = await fetch(${JSON.stringify(endpoint)}, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ inputs: text, parameters: { aggregation_strategy: document.getElementById("strategy").value } }),
  });
  const body = await res.json();
  if (!res.ok) { document.getElementById("error").textContent = body.error ?? res.statusText; return; }
  output.innerHTML = highlightHtml(text, body);
  document.getElementById("table").innerHTML = "<tr><th>label</th><th>word</th><th>score</th><th>span</th></tr>" +
    body.map((e) => "<tr><td>" + (e.entity_group ?? e.entity) + "</td><td>" + (e.word ?? "").replace(/</g, "&lt;") +
      "</td><td>" + e.score.toFixed(4) + "</td><td>" + e.start + "–" + e.end + "</td></tr>").join("");
  document.body.dataset.done = String(Number(document.body.dataset.done ?? 0) + 1);
}
document.getElementById("compute").addEventListener("click", compute);
</script>
</body></html>
`;
}
