/**
 * Test helper: reads the CoNLL-2003 files shipped in data/conll2003 (4 columns: token POS chunk NER).
 * @module
 */

/** One CoNLL-2003 sentence: its tokens and their POS, chunk and NER tags. */
export interface ConllSentence {
  tokens: string[];
  pos: string[];
  chunk: string[];
  ner: string[];
}

/** Path of a CoNLL-2003 split in the repository. */
export function conllPath(split: "train" | "valid" | "test"): URL {
  return new URL(`../../data/conll2003/${split}.txt`, import.meta.url);
}

/** Reads a split as sentences, dropping -DOCSTART- lines and empty sentences (as the HF loader does). */
export async function readConll(split: "train" | "valid" | "test"): Promise<ConllSentence[]> {
  const text = await Deno.readTextFile(conllPath(split));
  const out: ConllSentence[] = [];
  let cur: ConllSentence = { tokens: [], pos: [], chunk: [], ner: [] };
  const flush = () => {
    if (cur.tokens.length > 0) out.push(cur);
    cur = { tokens: [], pos: [], chunk: [], ner: [] };
  };
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("-DOCSTART-")) {
      flush();
      continue;
    }
    const [token, pos, chunk, ner] = line.split(" ");
    cur.tokens.push(token);
    cur.pos.push(pos);
    cur.chunk.push(chunk);
    cur.ner.push(ner);
  }
  flush();
  return out;
}

/**
 * A deterministic "model output" for tests: the gold NER tags with errors of every kind (missed entities,
 * spurious ones, split entities, wrong types) at fixed positions.
 */
export function perturbNer(sentences: readonly ConllSentence[]): string[][] {
  let k = 0;
  return sentences.map((s) =>
    s.ner.map((tag) => {
      k++;
      if (k % 13 === 0 && tag !== "O") return "O";
      if (k % 17 === 0 && tag === "O") return "B-MISC";
      if (k % 29 === 0 && tag.startsWith("I-")) return "B-" + tag.slice(2);
      if (k % 31 === 0 && tag.startsWith("B-")) return tag === "B-PER" ? "B-ORG" : "B-PER";
      if (k % 37 === 0 && tag === "O") return "I-LOC";
      return tag;
    })
  );
}
