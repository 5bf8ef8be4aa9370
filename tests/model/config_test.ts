import { assertEquals, assertThrows } from "../_assert.ts";
import { CONLL2003_NER_NAMES } from "../../src/data/conll2003.ts";
import {
  ConfigError,
  configLabels,
  configToJson,
  makeBertConfig,
  numLabels,
  parseBertConfig,
} from "../../src/model/config.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/bert-tiny-parity/config.json", import.meta.url)),
);

Deno.test("config: the fixture's config.json parses with its label maps", () => {
  const c = parseBertConfig(fixture);
  assertEquals(c.hidden_size, 32);
  assertEquals(numLabels(c), 9);
  assertEquals(configLabels(c), [...CONLL2003_NER_NAMES]);
  assertEquals(c.layer_norm_eps, 1e-12);
});

Deno.test("config: HF defaults fill absent fields; num_labels alone gives LABEL_i", () => {
  const c = parseBertConfig({ num_labels: 3 });
  assertEquals(c.hidden_size, 768);
  assertEquals(c.attention_probs_dropout_prob, 0.1);
  assertEquals(configLabels(c), ["LABEL_0", "LABEL_1", "LABEL_2"]);
});

Deno.test("config: disagreeing label maps and label counts are clear errors", () => {
  assertThrows(
    () => parseBertConfig({ ...fixture, label2id: { ...fixture.label2id, "B-PER": 2 } }, "x/config.json"),
    ConfigError,
    "x/config.json: id2label and label2id disagree",
  );
  assertThrows(() => parseBertConfig({ ...fixture, num_labels: 5 }), ConfigError, "num_labels is 5");
  assertThrows(
    () => parseBertConfig({ ...fixture, hidden_size: 30 }),
    ConfigError,
    "multiple of num_attention_heads",
  );
  assertThrows(() => parseBertConfig({ ...fixture, vocab_size: "big" }), ConfigError, "'vocab_size'");
  assertThrows(() => parseBertConfig({ ...fixture, hidden_act: "gelu_new" }), ConfigError, "hidden_act");
});

Deno.test("config: configToJson writes every field HF needs and round-trips", () => {
  const c = makeBertConfig({ hidden_size: 64, num_attention_heads: 2, labels: ["O", "B-X", "I-X"] });
  const json = configToJson(c);
  assertEquals(json.architectures, ["BertForTokenClassification"]);
  assertEquals(json.model_type, "bert");
  assertEquals(json.id2label, { "0": "O", "1": "B-X", "2": "I-X" });
  assertEquals(json.label2id, { O: 0, "B-X": 1, "I-X": 2 });
  const back = parseBertConfig(JSON.parse(JSON.stringify(json)));
  assertEquals(configToJson(back), json);
});
