/**
 * The CoNLL-2003 English NER dataset as Hugging Face's `conll2003` presents it: splits train / validation /
 * test read from the original 4-column files (`token POS chunk NER`) shipped in `data/conll2003/`, with HF's
 * ClassLabel name lists (and their order) for `pos_tags`, `chunk_tags` and `ner_tags`.
 * @module
 */
import type { DatasetDict } from "./dataset.ts";
import { type ConllOptions, loadConll } from "./conll.ts";
import { joinUrl, type Location } from "./io.ts";

/** NER label names of HF `conll2003` (`ner_tags` ClassLabel), in class-id order. */
export const CONLL2003_NER_NAMES: readonly string[] = Object.freeze([
  "O",
  "B-PER",
  "I-PER",
  "B-ORG",
  "I-ORG",
  "B-LOC",
  "I-LOC",
  "B-MISC",
  "I-MISC",
]);

/** POS label names of HF `conll2003` (`pos_tags` ClassLabel, 47 names), in class-id order. */
export const CONLL2003_POS_NAMES: readonly string[] = Object.freeze([
  '"',
  "''",
  "#",
  "$",
  "(",
  ")",
  ",",
  ".",
  ":",
  "``",
  "CC",
  "CD",
  "DT",
  "EX",
  "FW",
  "IN",
  "JJ",
  "JJR",
  "JJS",
  "LS",
  "MD",
  "NN",
  "NNP",
  "NNPS",
  "NNS",
  "NN|SYM",
  "PDT",
  "POS",
  "PRP",
  "PRP$",
  "RB",
  "RBR",
  "RBS",
  "RP",
  "SYM",
  "TO",
  "UH",
  "VB",
  "VBD",
  "VBG",
  "VBN",
  "VBP",
  "VBZ",
  "WDT",
  "WP",
  "WP$",
  "WRB",
]);

/** Chunk label names of HF `conll2003` (`chunk_tags` ClassLabel, 23 names), in class-id order. */
export const CONLL2003_CHUNK_NAMES: readonly string[] = Object.freeze([
  "O",
  "B-ADJP",
  "I-ADJP",
  "B-ADVP",
  "I-ADVP",
  "B-CONJP",
  "I-CONJP",
  "B-INTJ",
  "I-INTJ",
  "B-LST",
  "I-LST",
  "B-NP",
  "I-NP",
  "B-PP",
  "I-PP",
  "B-PRT",
  "I-PRT",
  "B-SBAR",
  "I-SBAR",
  "B-UCP",
  "I-UCP",
  "B-VP",
  "I-VP",
]);

/** Directory of the shipped CoNLL-2003 files (`train.txt`, `valid.txt`, `test.txt`). */
export const CONLL2003_DIR: URL = new URL("../../data/conll2003/", import.meta.url);

/** Split name → file name in a CoNLL-2003 directory (HF's mapping: valid.txt is `validation`). */
export const CONLL2003_FILES: Readonly<Record<string, string>> = Object.freeze({
  train: "train.txt",
  validation: "valid.txt",
  test: "test.txt",
});

/** Column layout and strict label names of the 4-column CoNLL-2003 files, as HF's loading script reads them. */
export const CONLL2003_OPTIONS: ConllOptions = Object.freeze({
  tokenColumn: 0,
  tagColumns: { pos_tags: 1, chunk_tags: 2, ner_tags: 3 },
  labelNames: {
    pos_tags: CONLL2003_POS_NAMES,
    chunk_tags: CONLL2003_CHUNK_NAMES,
    ner_tags: CONLL2003_NER_NAMES,
  },
  columnCount: 4,
  separator: "space",
  docstart: "-DOCSTART-",
});

/**
 * Loads CoNLL-2003 (train 14041, validation 3250, test 3453 sentences), by default from the copy shipped in
 * the repository, so it works offline; `dir` may point at another directory (path or URL) with the same three
 * files. Any line that is not 4 space-separated columns, or a tag outside HF's name lists, is an error.
 */
export function loadConll2003(dir: Location = CONLL2003_DIR): Promise<DatasetDict> {
  const files: Record<string, URL> = {};
  for (const [split, name] of Object.entries(CONLL2003_FILES)) files[split] = joinUrl(dir, name);
  return loadConll(files, CONLL2003_OPTIONS);
}
