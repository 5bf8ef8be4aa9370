/**
 * seqeval's strict mode: entities are read according to one tagging scheme, and only well-formed entities
 * count (e.g. under IOB2 an `I-PER` without a `B-PER` before it is no entity at all; under IOBES a `B-PER`
 * must be closed by `E-PER`). Each scheme is a table of (previous prefix, current prefix, same/different
 * type) patterns saying when a token starts an entity, continues it, or closes the one before it.
 * @module
 */

/** The tagging schemes strict mode knows. */
export type Scheme = "IOB1" | "IOB2" | "IOE1" | "IOE2" | "IOBES" | "BILOU";

/** Every scheme name, in seqeval's order. */
export const SCHEMES: readonly Scheme[] = ["IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU"];

/** An entity found in strict mode: its type and token span `[start, end)` inside sentence `sentence`. */
export interface StrictEntity {
  /** Index of the sentence in the input list. */
  sentence: number;
  /** The entity type (`PER`), or `_` for tags without a type. */
  type: string;
  /** First token of the entity. */
  start: number;
  /** One past the last token of the entity. */
  end: number;
}

/** Options for strict-mode extraction. */
export interface StrictOptions {
  /** Tags carry the prefix letter at the end (`PER-B`). Default false. */
  suffix?: boolean;
}

type _Cond = "same" | "diff" | "any";
/** [previous prefixes ("*" = any), current prefixes, type condition] */
type _Pattern = readonly [string, string, _Cond];

interface _SchemeRules {
  allowed: string;
  start: readonly _Pattern[];
  inside: readonly _Pattern[];
  end: readonly _Pattern[];
}

const _RULES: Record<Scheme, _SchemeRules> = {
  IOB1: {
    allowed: "IOB",
    start: [["O", "I", "any"], ["I", "I", "diff"], ["B", "I", "any"], ["I", "B", "same"], ["B", "B", "same"]],
    inside: [["B", "I", "same"], ["I", "I", "same"]],
    end: [
      ["I", "I", "diff"],
      ["I", "O", "any"],
      ["I", "B", "any"],
      ["B", "O", "any"],
      ["B", "I", "diff"],
      ["B", "B", "same"],
    ],
  },
  IOE1: {
    allowed: "IOE",
    start: [["O", "I", "any"], ["I", "I", "diff"], ["E", "I", "any"], ["E", "E", "same"]],
    inside: [["I", "I", "same"], ["I", "E", "same"]],
    end: [["I", "I", "diff"], ["I", "O", "any"], ["I", "E", "diff"], ["E", "I", "same"], ["E", "E", "same"]],
  },
  IOB2: {
    allowed: "IOB",
    start: [["*", "B", "any"]],
    inside: [["B", "I", "same"], ["I", "I", "same"]],
    end: [
      ["I", "O", "any"],
      ["I", "I", "diff"],
      ["I", "B", "any"],
      ["B", "O", "any"],
      ["B", "I", "diff"],
      ["B", "B", "any"],
    ],
  },
  IOE2: {
    allowed: "IOE",
    start: [
      ["O", "I", "any"],
      ["O", "E", "any"],
      ["E", "I", "any"],
      ["E", "E", "any"],
      ["I", "I", "diff"],
      ["I", "E", "diff"],
    ],
    inside: [["I", "E", "same"], ["I", "I", "same"]],
    end: [["E", "*", "any"]],
  },
  IOBES: {
    allowed: "IOBES",
    start: [["*", "B", "any"], ["*", "S", "any"]],
    inside: [["B", "I", "same"], ["B", "E", "same"], ["I", "I", "same"], ["I", "E", "same"]],
    end: [["S", "*", "any"], ["E", "*", "any"]],
  },
  BILOU: {
    allowed: "BILOU",
    start: [["*", "B", "any"], ["*", "U", "any"]],
    inside: [["B", "I", "same"], ["B", "L", "same"], ["I", "I", "same"], ["I", "L", "same"]],
    end: [["U", "*", "any"], ["L", "*", "any"]],
  },
};

/** Letters seqeval's `Prefix` enum knows; any other first (or last, with suffix) letter is an error. */
const _KNOWN_PREFIXES = "IOBESUL";

interface _Tok {
  /** Index of the prefix letter in {@link _KNOWN_PREFIXES}. */
  prefix: number;
  type: string;
}

/** A pattern set compiled to a table: [prev prefix][current prefix][same type] → matches. */
type _Table = Uint8Array;

function _compile(patterns: readonly _Pattern[]): _Table {
  const n = _KNOWN_PREFIXES.length;
  const table = new Uint8Array(n * n * 2);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < n; c++) {
      for (let same = 0; same < 2; same++) {
        const hit = patterns.some(([pp, cp, cond]) =>
          (pp === "*" || pp.includes(_KNOWN_PREFIXES[p])) &&
          (cp === "*" || cp.includes(_KNOWN_PREFIXES[c])) &&
          (cond === "any" || (cond === "same") === (same === 1))
        );
        table[(p * n + c) * 2 + same] = hit ? 1 : 0;
      }
    }
  }
  return table;
}

interface _Compiled {
  start: _Table;
  inside: _Table;
  end: _Table;
}

const _COMPILED = Object.fromEntries(
  SCHEMES.map((
    s,
  ) => [s, {
    start: _compile(_RULES[s].start),
    inside: _compile(_RULES[s].inside),
    end: _compile(_RULES[s].end),
  }]),
) as Record<Scheme, _Compiled>;

function _matches(table: _Table, prev: _Tok, cur: _Tok): boolean {
  return table[(prev.prefix * _KNOWN_PREFIXES.length + cur.prefix) * 2 + (prev.type === cur.type ? 1 : 0)] ===
    1;
}

/** Strips every leading and trailing `-`, like Python's `str.strip("-")`. */
function _stripDashes(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s[a] === "-") a++;
  while (b > a && s[b - 1] === "-") b--;
  return s.slice(a, b);
}

/** Parsed tags per scheme and suffix setting (only valid tags are stored). */
const _PARSED = new Map<string, Map<string, _Tok>>();

function _cacheFor(scheme: Scheme, suffix: boolean): Map<string, _Tok> {
  const key = `${scheme}:${suffix}`;
  let cache = _PARSED.get(key);
  if (cache === undefined) _PARSED.set(key, cache = new Map());
  return cache;
}

function _parseStrict(
  tag: string,
  scheme: Scheme,
  suffix: boolean,
  cache: Map<string, _Tok>,
  sentence: number,
  position: number,
): _Tok {
  const hit = cache.get(tag);
  if (hit !== undefined) return hit;
  const where = () => `sequence ${sentence}, position ${position}`;
  if (typeof tag !== "string" || tag.length === 0) {
    throw new TypeError(`${where()}: expected a non-empty tag string, got ${JSON.stringify(tag)}`);
  }
  const letter = suffix ? tag[tag.length - 1] : tag[0];
  if (!_KNOWN_PREFIXES.includes(letter)) {
    throw new Error(
      `${where()}: tag ${JSON.stringify(tag)} has no known prefix (expected one of I, O, B, E, S, U, L)`,
    );
  }
  if (!_RULES[scheme].allowed.includes(letter)) {
    throw new Error(
      `${where()}: invalid tag ${JSON.stringify(tag)} for scheme ${scheme}; allowed prefixes are ` +
        [..._RULES[scheme].allowed].join(", "),
    );
  }
  const tok = {
    prefix: _KNOWN_PREFIXES.indexOf(letter),
    type: _stripDashes(suffix ? tag.slice(0, -1) : tag.slice(1)) || "_",
  };
  if (cache.size < 10_000) cache.set(tag, tok);
  return tok;
}

function _checkScheme(scheme: string): asserts scheme is Scheme {
  if (!(SCHEMES as readonly string[]).includes(scheme)) {
    throw new Error(`Scheme should be one of [${SCHEMES.join(", ")}], got ${scheme}`);
  }
}

/**
 * The entities of one sentence under `scheme`, as seqeval's `Tokens(...).entities`: e.g. under IOB2
 * `["B-PER", "I-PER", "O", "B-LOC"]` gives PER [0, 2) and LOC [3, 4). Throws, naming the sentence and the
 * position, on a tag whose prefix the scheme does not allow.
 */
export function strictEntities(
  tags: readonly string[],
  scheme: Scheme,
  options: StrictOptions & { sentence?: number } = {},
): StrictEntity[] {
  _checkScheme(scheme);
  const rules = _COMPILED[scheme];
  const suffix = options.suffix ?? false;
  const sentence = options.sentence ?? 0;
  const outside: _Tok = { prefix: _KNOWN_PREFIXES.indexOf("O"), type: "_" };
  const cache = _cacheFor(scheme, suffix);
  const toks: _Tok[] = new Array(tags.length + 1);
  for (let i = 0; i < tags.length; i++) {
    toks[i] = _parseStrict(tags[i], scheme, suffix, cache, sentence, i);
  }
  toks[tags.length] = outside;
  const entities: StrictEntity[] = [];
  let prev = outside;
  let i = 0;
  while (i < toks.length) {
    const tok = toks[i];
    if (_matches(rules.start, prev, tok)) {
      // Walk over the tokens that continue this entity; `end` is the first one that does not.
      let end = i + 1;
      let last = tok;
      while (end < toks.length && _matches(rules.inside, last, toks[end])) last = toks[end++];
      if (end >= toks.length) end = tags.length - 1; // unreachable: the trailing O never continues one
      if (_matches(rules.end, toks[end - 1], toks[end])) {
        entities.push({ sentence, type: tok.type, start: i, end });
      }
      i = end;
    } else {
      i += 1;
    }
    prev = toks[i - 1];
  }
  return entities;
}

/**
 * seqeval's `auto_detect`: picks IOB2, IOE2, IOBES or BILOU from the set of prefixes used in `sequences`,
 * and throws when the set fits none of them (for instance `I` and `O` only, which could be IOB1 or IOE1).
 */
export function autoDetectScheme(
  sequences: readonly (readonly string[])[],
  options: StrictOptions = {},
): Scheme {
  const suffix = options.suffix ?? false;
  const used = new Set<string>();
  sequences.forEach((seq, s) =>
    seq.forEach((tag, i) => {
      const prefix = suffix ? tag[tag.length - 1] : tag[0];
      if (prefix === undefined || !_KNOWN_PREFIXES.includes(prefix)) {
        throw new Error(`sequence ${s}, position ${i}: this scheme is not supported: ${JSON.stringify(tag)}`);
      }
      used.add(prefix);
    })
  );
  const key = [...used].sort().join("");
  const fits = (options: string[]) => options.some((o) => [...o].sort().join("") === key);
  if (fits(["IOB", "IB", "BO", "B"])) return "IOB2";
  if (fits(["IOE", "IE", "EO", "E"])) return "IOE2";
  if (fits(["IOBES", "IBES", "IOBE", "OBES", "IBE", "BES", "OBE", "BE", "S"])) return "IOBES";
  if (fits(["IOBLU", "IBLU", "IOBL", "OBLU", "IBL", "BLU", "OBL", "BL", "U"])) return "BILOU";
  throw new Error(`This scheme is not supported: prefixes {${[...used].sort().join(", ")}}`);
}
