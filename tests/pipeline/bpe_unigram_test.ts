// The pipeline with the fixture byte-level BPE (RoBERTa layout) and Unigram (XLM-R layout) tokenizers: the
// <s> … </s> template wraps each window, and `first` groups tokens into whole words by HF's space heuristic
// (non-WordPiece tokenizers), so every entity is an exact span of the text. The scorer labels a token B-ORG
// when the text at its start is a capital letter — a word's later pieces (no space before them) say O and are
// out-voted by `first`.
import { assert, assertEquals } from "../_assert.ts";
import { loadTokenizer } from "../../src/data/tokenizer.ts";
import { TokenClassificationPipeline } from "../../src/pipeline/token_classification.ts";
import { type Calls, tokenScorer } from "./_fake.ts";
import type { GroupedEntity } from "../../src/pipeline/types.ts";

const DIR = new URL("../fixtures/tokenizers/", import.meta.url);
const TEXT = "Peter Blackburn met Werner Zwingmann in Brussels .";

for (const kind of ["bpe-roberta", "unigram-xlmr"]) {
  Deno.test(`pipeline (${kind}): first groups pieces into whole words; template; exact spans`, async () => {
    const tok = await loadTokenizer(new URL(`${kind}/`, DIR));
    const enc = tok.encodeText(TEXT, { addSpecialTokens: false });
    const starts = new Map(enc.offsets.map(([a], i) => [i, a]));
    const calls: Calls = { batches: [] };
    // label by the text under the token: capitalised at a word start → B-ORG, anything else O
    const scorer = tokenScorer(tok, (_tokens, i) => {
      if (i === 0 || i > enc.tokens.length) return "O"; // <s>, </s>
      const at = starts.get(i - 1)!;
      const wordStart = at === 0 || TEXT[at - 1] === " ";
      return wordStart && /[A-Z]/.test(TEXT[at]) ? "B-ORG" : "O";
    }, calls);
    const ner = new TokenClassificationPipeline(scorer, tok, { aggregationStrategy: "first" });
    const entities = await ner.run(TEXT) as GroupedEntity[];
    assertEquals(
      entities.map((e) => [e.entity_group, TEXT.slice(e.start, e.end)]),
      [["ORG", "Peter"], ["ORG", "Blackburn"], ["ORG", "Werner"], ["ORG", "Zwingmann"], ["ORG", "Brussels"]],
    );
    assert(enc.tokens.length > 9, "several words are split into pieces");
    const first = calls.batches[0];
    assertEquals(tok.convertIdsToTokens([first.inputIds[0]]), ["<s>"]);
    assertEquals(tok.convertIdsToTokens([first.inputIds[enc.tokens.length + 1]]), ["</s>"]);
  });
}
