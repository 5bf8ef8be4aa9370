import { assertEquals, assertThrows } from "../_assert.ts";
import { BERT_BASE_CASED_DIR, loadTokenizer } from "../../src/data/tokenizer.ts";
import { tokenizerJsonFromVocab } from "../../src/data/vocab_tokenizer.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { DataError } from "../../src/data/errors.ts";

Deno.test("vocab.txt only: the built fast tokenizer encodes like the shipped tokenizer.json", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.copyFile(new URL("vocab.txt", BERT_BASE_CASED_DIR), `${dir}/vocab.txt`);
  await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify({ do_lower_case: false }));
  const fromVocab = await loadTokenizer(dir);
  const shipped = await loadTokenizer();
  const data = await loadConll2003();
  for (const row of data.validation.rows.slice(0, 400)) {
    const a = fromVocab.encodeWords(row.tokens), b = shipped.encodeWords(row.tokens);
    assertEquals([...a.inputIds], [...b.inputIds], row.tokens.join(" "));
    assertEquals(a.wordIds, b.wordIds);
  }
  const text = "Héllo, Wörld!\tMy name is Sylvain.";
  assertEquals(fromVocab.encodeText(text).offsets, shipped.encodeText(text).offsets);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("vocab.txt only: do_lower_case defaults to true (BertTokenizer's default); a vocab without [UNK] is an error", () => {
  const json = tokenizerJsonFromVocab("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n", {}) as {
    normalizer: { lowercase: boolean };
    model: { vocab: Record<string, number> };
  };
  assertEquals(json.normalizer.lowercase, true);
  assertEquals(json.model.vocab.hello, 4);
  assertThrows(
    () => tokenizerJsonFromVocab("[PAD]\n[CLS]\n[SEP]\n", {}, "x/vocab.txt"),
    DataError,
    "no [UNK]",
  );
});
