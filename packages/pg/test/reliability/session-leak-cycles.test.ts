/**
 * docs/reliability.md, "Session leak guard": 10,000 randomized lease cycles under `reset: 'always'` and 10,000 under
 * the default `'auto'`, mixing SET, SET ROLE, set_config, temp tables, LISTEN, advisory locks,
 * PREPARE, cursors, pg named statements, open and failed transactions (session-leak.ts), every
 * next borrower checked: 0 leaks under `'always'`, and under `'auto'` for everything docs/pg.md says
 * it sees. The two modes run at the same time, each on its own pool.
 */
import { useTestDatabase } from "@lifeguard/test-fixtures";
import { afterAll, beforeAll, describe, inject, it } from "vitest";
import type { ResetMode } from "../../src/index.js";
import {
  createLeakFixtures,
  dropLeakRole,
  leaseCycles,
  SEED,
  usableActions,
} from "./session-leak.js";
import { report } from "./support.js";

const db = useTestDatabase();
const ROLE = "lg_rel_leak_cycles";
const LEASES = 10_000;
/** PostgreSQL 18 reports search_path changes; below, 'auto' resets far more often. */
const reportsSearchPath = inject("pgMajor") >= 18;

beforeAll(() => createLeakFixtures(db.url, ROLE));
afterAll(() => dropLeakRole(db.url, ROLE));

describe.concurrent("session leak guard", () => {
  it.for(["always", "auto"] as ResetMode[])(
    `reset '%s': ${LEASES.toLocaleString("en")} randomized lease cycles, every next borrower checked: 0 leaks`,
    // 10,000 leases on a shared 2-core machine: far past the default 30 s when it is busy
    { timeout: 180_000 },
    async (reset, { expect }) => {
      const result = await leaseCycles(db.url, reset, ROLE, LEASES);

      expect(result.unexpected).toEqual([]);
      expect(result.leaks.slice(0, 5)).toEqual([]); // the first few, readable, if any
      expect(result.leaks).toHaveLength(0);
      // every action really ran, many times over
      for (const action of usableActions(ROLE, reset)) {
        expect(result.used.get(action.name) ?? 0, action.name).toBeGreaterThan(100);
      }
      expect(result.stats.counters.acquires).toBeGreaterThanOrEqual(LEASES);
      const resets = result.stats.connector["resets"] ?? 0;
      // 'always' resets at every release; 'auto' only after leases that may have changed the
      // session, which below PostgreSQL 18 (search_path not reported) is any lease that may have
      // run user code: nearly every lease here
      if (reset === "always" || !reportsSearchPath)
        expect(resets).toBeGreaterThan(result.stats.counters.releases * 0.9);
      else expect(resets).toBeLessThan(result.stats.counters.releases * 0.9);
      report(`session-leak-${reset}`, {
        leases: LEASES,
        seed: SEED,
        leaks: result.leaks.length,
        millis: Math.round(result.millis),
        releases: result.stats.counters.releases,
        resets,
        rollbacks: result.stats.connector["rollbacks"],
        cleanupFailures: result.stats.connector["cleanupFailures"],
        connectionsOpened: result.stats.counters.creates,
        actions: Object.fromEntries([...result.used].sort()),
      });
    },
  );
});
