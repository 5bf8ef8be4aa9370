// savePretrained with a byte-level BPE tokenizer records add_prefix_space=True (training used it, as
// run_ner.py does), so the saved folder tokenizes pre-split words again; a Unigram tokenizer gets no such key.
import { assert, assertEquals } from "../_assert.ts";
import { fromPretrained, savePretrained } from "../../src/model/pretrained.ts";
import { loadTokenizer } from "../../src/data/tokenizer.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();
const ROBERTA = new URL("../fixtures/roberta-tiny-parity/", import.meta.url).pathname;
const TOKENIZERS = new URL("../fixtures/tokenizers/", import.meta.url);

Deno.test("savePretrained: byte-level tokenizers are saved with add_prefix_space=true", async () => {
  const { model } = await fromPretrained(ROBERTA);
  const dir = await Deno.makeTempDir();
  try {
    for (const [kind, flag] of [["bpe-roberta", true], ["unigram-xlmr", undefined]] as const) {
      await savePretrained(model, dir, { tokenizerDir: new URL(`${kind}/`, TOKENIZERS) });
      const config = JSON.parse(await Deno.readTextFile(`${dir}/tokenizer_config.json`));
      assertEquals(config.add_prefix_space, flag, kind);
      const tok = await loadTokenizer(dir);
      const enc = tok.encodeWords(["EU", "rejects"]);
      assert(enc.wordIds.filter((w) => w === 0).length >= 1, kind);
      if (kind === "bpe-roberta") assert(enc.tokens[1].startsWith("Ġ"), enc.tokens.join(" "));
    }
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
