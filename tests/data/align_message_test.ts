// Issue 13 (vague messages): a split word labelled B-X without an I-X label names the file, the sentence
// (index, id and its start) and the word.
import { assert, assertRejects } from "../_assert.ts";
import { loadConll } from "../../src/data/conll.ts";
import { DataError } from "../../src/data/errors.ts";
import { loadTokenizer } from "../../src/data/tokenizer.ts";
import { tokenizeAndAlign } from "../../src/data/prepare.ts";

Deno.test("prepare: 'split but no I-X label' names file, sentence and word", async () => {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    // B-GADGET has no I-GADGET; "Hugging" is split by WordPiece.
    await Deno.writeTextFile(path, "We O\nlike O\n\nHuggingphone B-GADGET\nrocks O\n");
    const ds = (await loadConll({ train: path }, { labelNames: { ner_tags: ["O", "B-GADGET"] } })).train;
    const tokenizer = await loadTokenizer();
    const e = await assertRejects(
      () => Promise.resolve().then(() => tokenizeAndAlign(ds, tokenizer)),
      DataError,
    );
    assert(e.message.startsWith(`${path}: ner_tags: sentence 1 (id 1, "Huggingphone rocks")`), e.message);
    assert(e.message.includes(`"I-GADGET"`), e.message);
  } finally {
    await Deno.remove(path);
  }
});
