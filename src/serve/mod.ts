/**
 * Serving: the Inference-API request handler behind `deno task serve`, its widget page and the entity
 * highlighter the widget and the browser example use.
 * @module
 */
export { createNerHandler, type NerHandler, type NerHandlerOptions } from "./server.ts";
export { widgetPage } from "./widget.ts";
export { HIGHLIGHT_CSS, type HighlightEntity, highlightHtml } from "./highlight.ts";
