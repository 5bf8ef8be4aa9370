// Issue 13 item 9: a UTF-8 BOM at the start of a CoNLL file is dropped (it hid -DOCSTART-, making a bogus
// sentence), and invalid UTF-8 is an error naming the file, line and byte offset (it was decoded lossily).
import { assertEquals, assertRejects } from "../_assert.ts";
import { loadConll, parseConll } from "../../src/data/conll.ts";
import { DataError } from "../../src/data/errors.ts";
import { firstInvalidUtf8 } from "../../src/data/utf8.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const CONLL = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n";

async function temp(bytes: Uint8Array): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeFile(path, bytes);
  return path;
}

Deno.test("conll (item 9): a BOM before -DOCSTART- is dropped, file and text alike", async () => {
  const path = await temp(new Uint8Array([0xef, 0xbb, 0xbf, ...enc(CONLL)]));
  try {
    const ds = (await loadConll({ train: path })).train;
    assertEquals(ds.rows.map((r) => r.tokens), [["EU", "rejects"], ["Peter"]]);
    assertEquals(parseConll("\uFEFF" + CONLL, "x.txt").rows.map((r) => r.tokens), [["EU", "rejects"], [
      "Peter",
    ]]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("conll (item 9): invalid UTF-8 is an error with file, line and byte offset", async () => {
  const bytes = enc(CONLL.replace("rejects", "reXjects"));
  const at = new TextEncoder().encode(CONLL.slice(0, CONLL.indexOf("rejects") + 2)).length;
  bytes[at] = 0xff;
  const path = await temp(bytes);
  try {
    const e = await assertRejects(
      () => loadConll({ train: path }),
      DataError,
      `invalid UTF-8 at byte offset ${at}`,
    );
    assertEquals([e.file, e.line], [path, 4]);
  } finally {
    await Deno.remove(path);
  }
  // The validator: overlong forms, surrogates, truncated sequences and stray continuation bytes.
  assertEquals(firstInvalidUtf8(enc("aé€😀")), -1);
  assertEquals(firstInvalidUtf8(new Uint8Array([0x61, 0xc0, 0x80])), 1);
  assertEquals(firstInvalidUtf8(new Uint8Array([0xed, 0xa0, 0x80])), 0);
  assertEquals(firstInvalidUtf8(new Uint8Array([0x61, 0x62, 0xe2, 0x82])), 2);
  assertEquals(firstInvalidUtf8(new Uint8Array([0x80])), 0);
  assertEquals(firstInvalidUtf8(new Uint8Array([0xf4, 0x90, 0x80, 0x80])), 0);
});
