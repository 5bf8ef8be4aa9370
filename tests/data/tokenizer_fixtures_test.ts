/**
 * The small tokenizers of tests/fixtures/tokenizers/ (for the families' tiny runs) on CoNLL-2003 validation:
 * ids fit the fixtures' vocab 1000, the special-token layout is the family's, every word keeps its id,
 * labels align (first token = the word's label, later ones B-X → I-X), the collator pads with the
 * tokenizer's pad id, and raw text gives the library's own ids with offsets that slice back to each token.
 */
import { assert, assertEquals } from "../_assert.ts";
import { loadTokenizer } from "../../src/data/tokenizer.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { tokenizeAndAlign } from "../../src/data/prepare.ts";
import { collate } from "../../src/data/collator.ts";

const DIR = new URL("../fixtures/tokenizers/", import.meta.url);
const data = await loadConll2003();
const rows = { ...data.validation, rows: data.validation.rows.slice(0, 300) };

const KINDS = [
  { dir: "bpe-roberta", model: "BPE", pad: [1, "<pad>"], template: ["<s>", "</s>"], byteLevel: true },
  { dir: "unigram-xlmr", model: "Unigram", pad: [1, "<pad>"], template: ["<s>", "</s>"], byteLevel: false },
  {
    dir: "unigram-deberta-v3",
    model: "Unigram",
    pad: [0, "[PAD]"],
    template: ["[CLS]", "[SEP]"],
    byteLevel: false,
  },
  {
    dir: "wordpiece-1000",
    model: "WordPiece",
    pad: [0, "[PAD]"],
    template: ["[CLS]", "[SEP]"],
    byteLevel: false,
  },
] as const;

for (const kind of KINDS) {
  Deno.test(`fixture tokenizer ${kind.dir}: ids < 1000, template, alignment, collator, offsets`, async () => {
    const tok = await loadTokenizer(new URL(`${kind.dir}/`, DIR), { addPrefixSpace: "auto" });
    assertEquals([tok.modelType, tok.padId, tok.padToken, tok.pipeline.byteLevel], [
      kind.model,
      ...kind.pad,
      kind.byteLevel,
    ]);
    assert(tok.vocabSize <= 1000, `vocab ${tok.vocabSize}`);
    assertEquals(tok.modelMaxLength, 64);
    const prepared = tokenizeAndAlign(rows, tok, { maxLength: 64 });
    const names = data.validation.features.ner_tags.names;
    let split = 0;
    prepared.examples.forEach((ex, r) => {
      const enc = tok.encodeWords(rows.rows[r].tokens, { maxLength: 64 });
      assertEquals(tok.convertIdsToTokens([ex.inputIds[0], ex.inputIds[ex.inputIds.length - 1]]), [
        ...kind.template,
      ]);
      assert(ex.inputIds.every((id) => id >= 0 && id < 1000), `row ${r}: id out of range`);
      const tags = rows.rows[r].tags.ner_tags;
      enc.wordIds.forEach((w, t) => {
        if (w === null) return assertEquals(ex.labels![t], -100);
        const first = enc.wordIds[t - 1] !== w;
        const name = names[tags[w]];
        const want = first ? tags[w] : names.indexOf(name.startsWith("B-") ? "I-" + name.slice(2) : name);
        if (!first) split++;
        assertEquals(ex.labels![t], want, `row ${r} token ${t}`);
      });
      // no word disappears: every word of an untruncated row has a token
      if (!ex.truncated) {
        assertEquals(new Set(enc.wordIds.filter((w) => w !== null)).size, tags.length, `row ${r}`);
      }
    });
    assert(split > 100, "words get split into several tokens");
    const batch = collate(prepared.examples.slice(0, 4), { padId: tok.padId });
    const longest = Math.max(...prepared.examples.slice(0, 4).map((e) => e.inputIds.length));
    assertEquals([batch.batchSize, batch.seqLen], [4, longest]);
    prepared.examples.slice(0, 4).forEach((e, b) => {
      for (let t = e.inputIds.length; t < longest; t++) {
        assertEquals([batch.inputIds[b * longest + t], batch.attentionMask[b * longest + t]], [tok.padId, 0]);
        assertEquals(batch.labels![b * longest + t], -100);
      }
    });
    // raw text: the library's own pieces, offsets that slice back to them
    for (const row of rows.rows.slice(0, 50)) {
      const text = row.tokens.join(" ");
      const enc = tok.encodeText(text, { truncation: false, addSpecialTokens: false });
      assertEquals(
        Array.from(enc.inputIds),
        tok.library.encode(text, { add_special_tokens: false }).ids,
        text,
      );
      enc.offsets.forEach(([a, b], i) => {
        assert(a >= 0 && b <= text.length && a <= b, `${text}: offsets ${a},${b}`);
        const piece = enc.tokens[i].replace(/^(##|Ġ|▁)/, "");
        if (enc.tokens[i] !== tok.unkToken && !/[^\x20-\x7e]/.test(text.slice(a, b))) {
          assertEquals(text.slice(a, b), piece === "" ? text.slice(a, b) : piece, `${text} token ${i}`);
        }
      });
    }
  });
}
