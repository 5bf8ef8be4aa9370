import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { DataError } from "../../src/data/errors.ts";
import { parseConll } from "../../src/data/conll.ts";
import { tokenizeAndAlign } from "../../src/data/prepare.ts";
import { loadTokenizer } from "../../src/data/tokenizer.ts";

const raw = await loadConll2003();
const tokenizer = await loadTokenizer();
const prefix = tokenizer.continuingSubwordPrefix;

/** Reference: the course's align_labels_with_tokens, literally (label % 2), valid for CoNLL's name order. */
function courseAlign(labels: readonly number[], wordIds: readonly (number | null)[]): number[] {
  const out: number[] = [];
  let current: number | null = null;
  for (const w of wordIds) {
    if (w !== current) {
      current = w;
      out.push(w === null ? -100 : labels[w]);
    } else if (w === null) {
      out.push(-100);
    } else {
      const label = labels[w];
      out.push(label % 2 === 1 ? label + 1 : label);
    }
  }
  return out;
}

for (const split of ["train", "validation", "test"] as const) {
  Deno.test(`prepare: every word of ${split} round-trips through its pieces; nothing exceeds 512`, () => {
    const prepared = tokenizeAndAlign(raw[split], tokenizer);
    assertEquals(prepared.examples.length, raw[split].rows.length);
    assertEquals(prepared.labelColumn, "ner_tags");
    assertEquals([prepared.truncatedCount, prepared.emptyWordCount], [0, 0]);
    assert(prepared.maxTokens <= 512, `max ${prepared.maxTokens}`);
    let unknown = 0;
    prepared.examples.forEach((example, r) => {
      const words = raw[split].rows[r].tokens;
      const tokens = tokenizer.convertIdsToTokens(example.inputIds);
      const pieces: string[][] = words.map(() => []);
      example.wordIds.forEach((w, t) => w !== null && pieces[w].push(tokens[t]));
      words.forEach((word, w) => {
        if (pieces[w].length === 0) throw new Error(`${split}[${r}] word ${w} "${word}" has no tokens`);
        const surface = pieces[w].map((p) => (p.startsWith(prefix) ? p.slice(prefix.length) : p));
        if (surface.includes("[UNK]")) {
          unknown++;
          const pattern = surface.map((
            s,
          ) => (s === "[UNK]" ? "(.+)" : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
          if (!new RegExp(`^${pattern.join("")}$`, "su").test(word)) {
            throw new Error(`${split}[${r}] "${word}"`);
          }
        } else if (surface.join("") !== word) {
          throw new Error(`${split}[${r}] word "${word}" decodes to "${surface.join("")}"`);
        }
      });
      // The name-based alignment agrees with the course's literal % 2 rule on CoNLL's label order.
      const expected = courseAlign(raw[split].rows[r].tags.ner_tags, example.wordIds);
      if (Array.from(example.labels!).join() !== expected.join()) {
        throw new Error(`${split}[${r}] labels differ`);
      }
    });
    console.log(
      `${split}: ${prepared.examples.length} sentences, max ${prepared.maxTokens} tokens, ${unknown} [UNK] words`,
    );
  });
}

Deno.test("prepare: first-subtoken-only labels each word once; truncation is counted", () => {
  const first = tokenizeAndAlign(raw.validation, tokenizer, { firstSubtokenOnly: true });
  first.examples.forEach((example, r) => {
    const labelled = Array.from(example.labels!).filter((l) => l !== -100).length;
    if (labelled !== raw.validation.rows[r].tokens.length) {
      throw new Error(`row ${r}: ${labelled} labelled tokens`);
    }
  });
  const short = tokenizeAndAlign(raw.validation, tokenizer, { maxLength: 16 });
  const expected = first.examples.filter((e) => e.inputIds.length > 16).length;
  assert(expected > 0);
  assertEquals(short.truncatedCount, expected);
  assertEquals(short.maxTokens, 16);
});

Deno.test("prepare: label column choice, unlabelled tokenization and a clear error for a missing column", () => {
  const pos = tokenizeAndAlign(raw.validation, tokenizer, { labelColumn: "pos_tags" });
  assertEquals(pos.labelNames.length, 47);
  assertEquals(Array.from(pos.examples[0].labels!.slice(0, 3)), [-100, 22, 22]); // CRICKET: NNP on every piece
  const none = tokenizeAndAlign(raw.validation, tokenizer, { labelColumn: null });
  assertEquals(none.examples[0].labels, null);
  assertThrows(
    () => tokenizeAndAlign(raw.validation, tokenizer, { labelColumn: "tags" }),
    DataError,
    "no such tag column",
  );
  const single = parseConll("a X\n", "one.txt", "train", { tagColumns: { tags: 1 } });
  assertEquals(tokenizeAndAlign(single, tokenizer).labelColumn, "tags");
});
