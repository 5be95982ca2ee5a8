/**
 * The statement classifier behind reset 'auto': unit cases (among them the three texts that fooled
 * the regex classifier, issue 14), and a seeded property test that hides session-changing SQL
 * inside every kind of literal, identifier and comment (must stay clean) and puts it outside them
 * (must be dirty). A sample of the generated texts also runs on the real server, which confirms
 * the generator's ground truth: the clean ones leave the session as it was, the dirty ones do not.
 */
import { useTestDatabase, withClient } from "@lifeguard/test-fixtures";
import { describe, expect, it } from "vitest";
import { lex } from "../src/sql-lexer.js";
import { classifyStatement } from "../src/statement-classifier.js";
import { seededRandom } from "./reliability/support.js";

const db = useTestDatabase();

describe("texts that fooled the regex classifier", () => {
  it.each([
    [
      "an E'' string with an escaped quote hides a SET",
      "select E'\\''; set work_mem = '8MB'",
      "SET",
    ],
    ["a quoted function name", 'select "pg_advisory_lock"(1)', "advisory lock"],
    [
      "a quoted, qualified function name",
      "select \"pg_catalog\".\"set_config\"('a.b', '1', false)",
      "set_config",
    ],
    [
      "a string saying 'on commit drop' in a temp table",
      "create temp table t (note text default 'on commit drop')",
      "temp table",
    ],
    [
      "an identifier with $ taken for a dollar quote",
      "select 1 as a$b$; set role x; select 2 as c$b$",
      "SET",
    ],
    [
      "a comment between a function and its (",
      "select pg_advisory_lock/* x */(1)",
      "advisory lock",
    ],
    ["a quoted pg_temp schema", 'create table "pg_temp".t (v int)', "temp table"],
    ["a quoted pg_temp schema in DML", 'insert into "pg_temp".t values (1)', "temp table"],
  ])("%s", (_name, text, kind) => {
    expect(classifyStatement(text)).toMatchObject({ dirty: true, kind });
  });
});

describe("what stays clean", () => {
  it.each([
    "select 'set work_mem = 1; listen x'",
    "select E'it''s \\' ; set x = 1 ; \\\\' as v",
    "select U&'d\\0061t\\+000061 ; set x = 1' as v",
    "select $$ ; set x = 1 $$, $tag$ $$ ; set y = 2 $tag$",
    "select 1 /* outer /* inner */ ; set x = 1 */",
    "select 1 -- ; set x = 1",
    'select 1 as "; set role x", 2 as U&"temp"',
    "select b'0101', x'1f', n'set x'",
    "select 'a'\n  -- a comment between the parts\n  'b; set x = 1'",
    "select E'a'\n'\\'; set x = 1'", // the continuation of an E'' string is E'' too
    "select set_config('app.t', 'v', true)",
    "select pg_catalog.set_config('app.t', coalesce($1, 'x'), true)",
    "create temp table t (v int) on commit drop",
    "create local temporary table t (v int) on commit drop",
    "create temp table t on commit drop as select 1 as v",
    "select 1;;;",
    "",
    "  -- only a comment",
  ])("%j", (text) => {
    expect(classifyStatement(text)).toMatchObject({ dirty: false, kind: undefined });
  });
});

describe("what counts", () => {
  it.each([
    [
      "select set_config('a', 'b', true) from t where set_config('c', 'd', false) = ''",
      "set_config",
    ],
    ["select set_config('a', 'b', $3)", "set_config"],
    [
      "create temp table t (v int) on commit drop as select set_config('a', 'b', false)",
      "set_config",
    ],
    ["select 1 into temp t", "temp table"],
    ["select 'unterminated", "unparsed statement"],
    ["select 1 /* unterminated", "unparsed statement"],
    ["select $a$ unterminated $b$", "unparsed statement"],
    ['"select" 1', "statement"],
    ["create temp table t (v int) as select 1 on commit drop", "temp table"], // not before AS
    ["(select 1); listen x", "LISTEN"],
  ])("%j → %s", (text, kind) => {
    expect(classifyStatement(text)).toMatchObject({ dirty: true, kind });
  });
});

describe("statements that may run user code (what 'auto' resets for below PostgreSQL 18)", () => {
  it.each([
    ["select 1", false],
    ["select 'ok' as status, 2 as \"n\", 3.5", false],
    ["select 1; select 2", false],
    ["select f()", true],
    ["select 1 from t", true],
    ["select 1 + 1", true], // an operator may resolve to a user's, ahead of pg_catalog
    ["select '1'::my_domain", true], // a domain's CHECK may call a function
    ["select $1", true],
    ["select 1 as", true],
    ["select 1,", true],
    ["select", true],
    ["(select 1)", true],
    ["insert into t values (1)", true],
    ["call p()", true],
    ["begin", false],
    ["commit", false],
    ["rollback to savepoint s", false],
    ["show search_path", false],
    ["set local work_mem = '8MB'", false],
    ["", false],
  ])("%j: %s", (text, userCode) => {
    expect(classifyStatement(text).mayRunUserCode).toBe(userCode);
  });
});

describe("standard_conforming_strings", () => {
  // on: '\' is a backslash and the quote after it doubles; off: \' escapes the quote
  const hidesWhenOn = "select 'x\\'';set work_mem = 8192;'";
  const hidesWhenOff = "select 'a\\'; set work_mem = 8192; select \\'b'";

  it("decides where a plain string ends", () => {
    expect(classifyStatement(hidesWhenOn).dirty).toBe(false);
    expect(classifyStatement(hidesWhenOn, { standardConformingStrings: false }).dirty).toBe(true);
    expect(classifyStatement(hidesWhenOff).dirty).toBe(true);
    expect(classifyStatement(hidesWhenOff, { standardConformingStrings: false }).dirty).toBe(false);
  });

  it("is how the server reads it too", async () => {
    const found = await withClient(db.url, async (client) => {
      await client.query("set standard_conforming_strings = off");
      await client.query("set escape_string_warning = off");
      await client.query(hidesWhenOff);
      const off = (await client.query("show work_mem")).rows[0].work_mem;
      await client.query("reset standard_conforming_strings");
      await client.query(hidesWhenOn);
      const on = (await client.query("show work_mem")).rows[0].work_mem;
      return { off, on };
    });
    expect(found).toEqual({ off: "4MB", on: "4MB" });
  });
});

describe("the lexer", () => {
  it("folds unquoted words, keeps quoted identifiers, and takes $n for a parameter", () => {
    const { tokens } = lex('SELECT "Mixed""Case", Ab$c, $1 FROM U&"x"');
    expect(tokens.map((t) => `${t.kind}:${t.value}`)).toEqual([
      "word:select",
      'quoted:Mixed"Case',
      "punct:,",
      "word:ab$c",
      "punct:,",
      "param:$1",
      "word:from",
      "quoted:x",
    ]);
  });

  it("splits at every top-level ; and nowhere else", () => {
    const { tokens } = lex("select ';', $$;$$, \";\" /* ; */ -- ;\n; select 1");
    expect(tokens.filter((t) => t.kind === "semicolon")).toHaveLength(1);
  });
});

// --- the property test ------------------------------------------------------------------------------

const SEED = 14_2026;
const CASES = 3000;

/** Session-changing SQL, and text that looks like it, to hide inside literals and comments. */
const payloads = [
  "set work_mem = '7MB'",
  "; set work_mem = '7MB'; ",
  "'; set work_mem = '7MB'; '",
  "\\'; set work_mem = '7MB'; --",
  "select pg_advisory_lock(7)",
  '"pg_advisory_lock"(7)',
  "create temp table fz (a int) -- on commit drop",
  "on commit drop",
  "$$; listen fz; $$",
  "$t$ ; listen fz ; $t$",
  "*/ set work_mem = '7MB'; /*",
  "/* ; set work_mem = '7MB'",
  "E'\\''; select set_config('app.fz', 'v', false)",
  "\n set work_mem = '7MB'\n",
  "temp pg_temp.x temporary",
  '""; listen fz; ""',
  "\\\\'; listen fz;",
];

/** Statements that change the session, valid on the server. */
function dirtyStatement(pick: <T>(items: readonly T[]) => T, n: number): string {
  return pick([
    "set work_mem = '7MB'",
    "select pg_advisory_lock(7)",
    'select "pg_advisory_lock"(8)',
    "select pg_catalog.set_config('app.fz', 'v', false)",
    `create temp table fz_${n} (a int)`,
    `create temp table fzd_${n} (note text default 'on commit drop')`,
    "listen fz",
    "select 1 as a$b$; set work_mem = '7MB'",
  ]);
}

function generator(seed: number) {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const payload = () => pick(payloads);

  /** An expression that is one literal holding a payload. */
  function literal(): string {
    const p = payload();
    switch (Math.floor(random() * 7)) {
      case 0:
        return `'${p.replaceAll("'", "''")}'`;
      case 1: {
        const body = p
          .replaceAll("\\", "\\\\")
          .replaceAll("'", () => (random() < 0.5 ? "\\'" : "''"));
        return ` E'${body}'`;
      }
      case 2:
        return ` U&'${p.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
      case 3: {
        const tag = pick(["", "a", "x_1", "Tag"]);
        const quote = `$${tag}$`;
        // the body ends at the first closing tag (`$$$t$` ends early, like the server's scanner)
        const fits = `${p}${quote}`.indexOf(quote) === p.length;
        return fits ? `${quote}${p}${quote}` : `'${p.replaceAll("'", "''")}'`;
      }
      case 4:
        // a continued literal: its second part is read like the first
        return `'a'\n  -- between\n'${p.replaceAll("'", "''")}'`;
      case 5:
        return ` E'a' \n'${p.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
      default:
        return pick(["B'0101'", "X'1F'", "1.5e3", "$1", "42"]).replace("$1", "'1'");
    }
  }

  function identifier(): string {
    const p = payload().replaceAll("\n", " ");
    return random() < 0.5
      ? `"${p.replaceAll('"', '""')}"`
      : ` U&"${p.replaceAll("\\", "\\\\").replaceAll('"', '""')}"`;
  }

  function comment(): string {
    const p = payload();
    if (random() < 0.5) return ` -- ${p.replaceAll("\n", " ").replaceAll("\r", " ")}\n`;
    const safe = p.replaceAll("*/", "* /").replaceAll("/*", "/ *");
    return random() < 0.5 ? ` /* ${safe} */ ` : ` /* outer /* ${safe} */ still outer */ `;
  }

  /** A read whose every literal, alias and comment hides a payload: it changes nothing. */
  function cleanStatement(): string {
    const columns: string[] = [];
    const count = 1 + Math.floor(random() * 3);
    for (let i = 0; i < count; i++) {
      columns.push(`${literal()} as ${identifier()}${random() < 0.4 ? comment() : ""}`);
    }
    return `${random() < 0.3 ? comment() : ""}select ${columns.join(", ")}`;
  }

  function cleanText(): string {
    const parts = [cleanStatement()];
    while (random() < 0.3) parts.push(cleanStatement());
    return parts.join(";\n");
  }

  /** The same, with one session-changing statement among them, outside every literal. */
  function dirtyText(n: number): string {
    const parts = [cleanStatement()];
    while (random() < 0.3) parts.push(cleanStatement());
    parts.splice(Math.floor(random() * (parts.length + 1)), 0, dirtyStatement(pick, n));
    return parts.join(random() < 0.5 ? ";\n" : "; ");
  }

  return { random, cleanText, dirtyText };
}

function generated(seed: number, count: number): { text: string; dirty: boolean }[] {
  const g = generator(seed);
  return Array.from({ length: count }, (_, n) =>
    g.random() < 0.5
      ? { text: g.cleanText(), dirty: false }
      : { text: g.dirtyText(n), dirty: true },
  );
}

describe(`property: ${CASES} generated texts (seed ${SEED})`, () => {
  const cases = generated(SEED, CASES);

  it("payloads inside literals, identifiers and comments stay clean; outside, they are dirty", () => {
    const wrong = cases.filter(({ text, dirty }) => classifyStatement(text).dirty !== dirty);
    expect(wrong.slice(0, 3)).toEqual([]);
    expect(cases.filter((c) => c.dirty).length).toBeGreaterThan(CASES * 0.4);
    expect(cases.filter((c) => !c.dirty).length).toBeGreaterThan(CASES * 0.4);
  });

  it("is reproducible from its seed", () => {
    expect(generated(SEED, 50)).toEqual(cases.slice(0, 50));
  });

  it("the server agrees: a sample leaves the session unchanged exactly when called clean", async () => {
    const PROBE = `select current_setting('work_mem') as work_mem,
      coalesce(current_setting('app.fz', true), '') as tenant,
      (select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) as locks,
      (select count(*)::int from pg_class where relnamespace = pg_my_temp_schema()) as temp,
      (select count(*)::int from pg_listening_channels()) as listening`;
    const disagreements = await withClient(db.url, async (client) => {
      const baseline = JSON.stringify((await client.query(PROBE)).rows[0]);
      const out: string[] = [];
      for (const { text } of cases.slice(0, 300)) {
        await client.query(text).catch((error: Error) => {
          throw new Error(`${error.message}, running ${JSON.stringify(text)}`);
        });
        const changed = JSON.stringify((await client.query(PROBE)).rows[0]) !== baseline;
        if (changed !== classifyStatement(text).dirty) out.push(text);
        await client.query("discard all");
        await client.query("set app.fz = ''");
      }
      return out;
    });
    expect(disagreements).toEqual([]);
  });
});
