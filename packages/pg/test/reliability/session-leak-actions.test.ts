/**
 * The session-leak guard's actions (session-leak.ts), one lease each, then the next borrower
 * checked: plain pg.Pool leaks every one of them, Lifeguard with `reset: 'always'` none; and the
 * one case `'auto'` cannot see (state changed inside a function) leaks under `'auto'`, as
 * docs/pg.md says. The 10,000 randomized cycles are in session-leak-cycles.test.ts.
 */
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Pool } from "../../src/index.js";
import {
  type Action,
  actionsFor,
  createLeakFixtures,
  differences,
  dropLeakRole,
  freshBaseline,
  type SessionState,
} from "./session-leak.js";
import { report } from "./support.js";

const db = useTestDatabase();
const ROLE = "lg_rel_leak_actions";
/** PostgreSQL 18 reports search_path changes (ParameterStatus); 14 to 17 do not. */
const reportsSearchPath = inject("pgMajor") >= 18;

beforeAll(() => createLeakFixtures(db.url, ROLE));
afterAll(() => dropLeakRole(db.url, ROLE));

describe("the same actions, one lease each, then the next borrower checked", () => {
  let baseline: SessionState;
  beforeAll(async () => {
    baseline = await freshBaseline(db.url);
  });
  // the clean actions leave nothing, and a named statement alone stays consistent under pg.Pool
  // too (pg's cache and the server agree)
  const clean = [
    "plain DML and reads",
    "statement error outside a transaction",
    "temp table on commit drop, committed",
    "named statement",
  ];
  const leaky = actionsFor(ROLE).filter((a) => !clean.includes(a.name));

  /** What the next borrower finds after `action`: differences, or the action's own failure. */
  async function nextBorrowerAfter(pool: pg.Pool, action: Action): Promise<string[]> {
    const first = await pool.connect();
    const failed = await action.run(first, 1, pool).then(
      () => [],
      (error: unknown) => [`the action itself failed: ${(error as Error).message}`],
    );
    first.release();
    const second = await pool.connect();
    const found = [...failed, ...(await differences(second, baseline))];
    second.release();
    return found;
  }

  it.each(leaky.map((a) => [a.name, a] as const))(
    "%s: plain pg.Pool leaks it, Lifeguard 'always' does not",
    async (name, action) => {
      // one pool after the other: a lock leaked by plain pg.Pool would block Lifeguard's lease
      const plain = new pg.Pool({ connectionString: db.url, max: 1 });
      plain.on("error", () => undefined);
      let leaked: string[];
      try {
        leaked = await nextBorrowerAfter(plain, action);
      } finally {
        await plain.end();
      }
      expect(leaked.length).toBeGreaterThan(0);
      const lifeguard = new Pool({ connectionString: db.url, max: 1, reset: "always" });
      try {
        expect(await nextBorrowerAfter(lifeguard, action)).toEqual([]);
      } finally {
        await lifeguard.end();
      }
      report(`session-leak-pg-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`, { leaked });
    },
  );

  it(`the blind spot (state changed inside a function) ${reportsSearchPath ? "leaks" : "does not leak (PostgreSQL < 18)"} under 'auto', as documented`, async () => {
    const blind = actionsFor(ROLE).find((a) => !a.autoSees) as Action;
    const pool = new Pool({ connectionString: db.url, max: 1, reset: "auto" });
    try {
      // below 18 'auto' resets after any statement that may run user code, this one included
      expect(await nextBorrowerAfter(pool, blind)).toEqual(
        reportsSearchPath ? ["tenant:  -> 1"] : [],
      );
    } finally {
      await pool.end();
    }
  });

  it("search_path changed inside a function does not leak under 'auto', on every major", async () => {
    const action = actionsFor(ROLE).find((a) => a.name === "function changing search_path");
    const pool = new Pool({ connectionString: db.url, max: 1, reset: "auto" });
    try {
      expect(await nextBorrowerAfter(pool, action as Action)).toEqual([]);
    } finally {
      await pool.end();
    }
  });
});
