/**
 * The session-leak guard of the reliability suite (docs/reliability.md, "Session leak guard"): what a borrower may leave
 * in a session, a probe that sees all of it, and the randomized lease cycles that check every
 * next borrower. Used by session-leak-cycles.test.ts and session-leak-actions.test.ts.
 */
import { withClient } from "@lifeguard/test-fixtures";
import pg from "pg";
import { Pool, type ResetMode } from "../../src/index.js";
import { seededRandom } from "./support.js";

/** Borrowers at once, on a pool of as many connections: every session is checked at every borrow. */
export const WORKERS = 4;
export const SEED = 20_260_508;

/** The role, table and function the actions use, in the test file's own database. */
export async function createLeakFixtures(url: string, role: string): Promise<void> {
  await withClient(url, async (c) => {
    await c.query(
      `do $$ begin create role ${role}; exception when duplicate_object then null; end $$`,
    );
    await c.query("create table public.leak_t (v int)");
    await c.query(`grant all on public.leak_t to ${role}`);
    // changes session state inside a function: the one thing 'auto' cannot see (docs/pg.md)
    await c.query(
      "create function public.lg_rel_set_tenant(t text) returns int language plpgsql as $$ begin perform set_config('app.tenant', t, false); return 1; end $$",
    );
    // search_path inside a function: reported by PostgreSQL 18; below, 'auto' resets after any
    // statement that may run user code (docs/pg.md)
    await c.query(
      "create function public.lg_rel_set_path(p text) returns int language plpgsql as $$ begin perform set_config('search_path', p, false); return 1; end $$",
    );
  });
}

export async function dropLeakRole(url: string, role: string): Promise<void> {
  await withClient(url, (c) => c.query(`drop role if exists ${role}`)).catch(() => undefined);
}

type Client = pg.PoolClient;
export interface Action {
  readonly name: string;
  /** 'auto' sees it (docs/pg.md): it runs under 'auto' too. Otherwise only under 'always'. */
  readonly autoSees: boolean;
  /** Can run alone through pool.query() (its own lease). */
  readonly viaPoolQuery?: string;
  /**
   * Leaves a statement running, so it must be the lease's last action: another statement sent
   * meanwhile would queue behind it, which pg deprecates (and prints a warning for).
   */
  readonly endsLease?: boolean;
  run(client: Client, n: number, pool: pg.Pool): Promise<void>;
}

/** Runs a statement that is meant to fail; any other failure is the test's. */
async function failing(client: Client, text: string, code: string): Promise<void> {
  const error = await client.query(text).then(
    () => undefined,
    (e: unknown) => e,
  );
  if ((error as { code?: string } | undefined)?.code !== code)
    throw new Error(`expected ${code} from ${text}, got ${String(error)}`);
}

const NAMED = "select $1::int as v";

/** Everything a borrower may leave behind; `role` is the role SET ROLE switches to. */
export function actionsFor(role: string): readonly Action[] {
  const ROLE = role;
  return [
    {
      name: "SET",
      autoSees: true,
      viaPoolQuery: "set statement_timeout = 4321",
      run: (c, n) => q(c, `set statement_timeout = ${1000 + n}`),
    },
    { name: "SET TimeZone", autoSees: true, run: (c) => q(c, "set timezone = 'Asia/Tokyo'") },
    { name: "SET search_path", autoSees: true, run: (c) => q(c, "set search_path = pg_catalog") },
    {
      name: "SET application_name",
      autoSees: true,
      run: (c) => q(c, "set application_name = 'leaky'"),
    },
    {
      name: "SET ROLE",
      autoSees: true,
      viaPoolQuery: `set role ${ROLE}`,
      run: (c) => q(c, `set role ${ROLE}`),
    },
    {
      name: "SET SESSION AUTHORIZATION",
      autoSees: true,
      run: (c) => q(c, `set session authorization ${ROLE}`),
    },
    {
      name: "set_config",
      autoSees: true,
      viaPoolQuery: "select set_config('app.tenant', 'q', false)",
      run: (c, n) => q(c, `select set_config('app.tenant', '${n}', false)`),
    },
    {
      name: "DO block",
      autoSees: true,
      run: (c) => q(c, "do $$ begin perform set_config('app.x', '1', false); end $$"),
    },
    { name: "multi-statement", autoSees: true, run: (c) => q(c, "select 1; set work_mem = '8MB'") },
    {
      name: "temp table",
      autoSees: true,
      viaPoolQuery: "create temp table if not exists tmp_q (v int)",
      run: (c, n) => q(c, `create temp table tmp_${n} (v int)`),
    },
    {
      name: "temp table on commit drop, committed",
      autoSees: true,
      run: (c, n) => q(c, `begin; create temporary table tmpd_${n} (v int) on commit drop; commit`),
    },
    {
      name: "LISTEN",
      autoSees: true,
      viaPoolQuery: "listen lg_rel_q",
      run: (c, n) => q(c, `listen lg_rel_${n % 7}`),
    },
    {
      name: "advisory lock",
      autoSees: true,
      viaPoolQuery: "select pg_try_advisory_lock(77)",
      run: (c, n) => q(c, `select pg_advisory_lock(${n})`),
    },
    {
      name: "advisory lock (shared, try)",
      autoSees: true,
      run: (c, n) => q(c, `select pg_try_advisory_lock_shared(${n})`),
    },
    {
      name: "PREPARE",
      autoSees: true,
      viaPoolQuery: "prepare lg_rel_q as select 1",
      run: async (c, n) => {
        await q(c, `prepare lg_rel_p${n} as select $1::int`);
        await q(c, `execute lg_rel_p${n}(1)`);
      },
    },
    {
      name: "DECLARE WITH HOLD",
      autoSees: true,
      run: (c, n) => q(c, `declare lg_rel_c${n} cursor with hold for select 1`),
    },
    {
      name: "named statement",
      autoSees: true,
      run: async (c, n) => {
        await c.query({ name: `lg_named_${n % 5}`, text: NAMED, values: [n] });
      },
    },
    {
      name: "DISCARD ALL, then a named statement",
      autoSees: true,
      run: async (c, n) => {
        await c.query({ name: `lg_named_${n % 5}`, text: NAMED, values: [n] });
        await q(c, "discard all");
        await c.query({ name: `lg_named_${n % 5}`, text: NAMED, values: [n] });
      },
    },
    {
      name: "DEALLOCATE, then the same named statement",
      autoSees: true,
      run: async (c, n) => {
        const name = `lg_named_${n % 5}`;
        await c.query({ name, text: NAMED, values: [n] });
        await q(c, `deallocate ${name}`);
        await c.query({ name, text: NAMED, values: [n] });
      },
    },
    {
      name: "open transaction",
      autoSees: true,
      run: (c, n) => q(c, `begin; insert into public.leak_t values (${n})`),
    },
    {
      name: "open transaction with SET LOCAL",
      autoSees: true,
      run: (c) => q(c, "begin; set local statement_timeout = 99"),
    },
    {
      name: "failed transaction",
      autoSees: true,
      run: async (c) => {
        await q(c, "begin");
        await failing(c, "select 1/0", "22012");
      },
    },
    {
      name: "unawaited SET, released at once",
      autoSees: true,
      endsLease: true,
      run: async (c, n) => {
        c.query(`set lock_timeout = ${n + 1}`).catch(() => undefined);
      },
    },
    {
      name: "plain DML and reads",
      autoSees: true,
      run: async (c, n) => {
        await q(c, `insert into public.leak_t values (${n})`);
        await q(c, "select count(*) from public.leak_t");
      },
    },
    {
      name: "statement error outside a transaction",
      autoSees: true,
      run: (c) => failing(c, "selec 1", "42601"),
    },
    {
      name: "function changing search_path",
      autoSees: true,
      viaPoolQuery: "select public.lg_rel_set_path('pg_catalog')",
      run: (c) => q(c, "select public.lg_rel_set_path('pg_catalog, public')"),
    },
    {
      name: "function changing session state (blind spot)",
      autoSees: false,
      run: (c, n) => q(c, `select public.lg_rel_set_tenant('${n}')`),
    },
  ];
}

async function q(client: Client, text: string): Promise<void> {
  await client.query(text);
}

const PROBE = `select current_setting('statement_timeout') as statement_timeout,
  current_setting('lock_timeout') as lock_timeout,
  current_setting('work_mem') as work_mem,
  current_setting('search_path') as search_path,
  current_setting('TimeZone') as timezone,
  current_setting('application_name') as application_name,
  coalesce(current_setting('app.tenant', true), '') as tenant,
  coalesce(current_setting('app.x', true), '') as app_x,
  current_user::text as current_user,
  session_user::text as session_user,
  (select count(*)::int from pg_class where relnamespace = pg_my_temp_schema()) as temp_objects,
  (select count(*)::int from pg_listening_channels()) as listening,
  (select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) as advisory_locks,
  (select count(*)::int from pg_prepared_statements where from_sql) as sql_prepared,
  (select coalesce(array_agg(name::text order by name), '{}') from pg_prepared_statements where not from_sql) as protocol_prepared,
  (select count(*)::int from pg_cursors) as cursors,
  now() = statement_timestamp() as fresh_transaction`;

export type SessionState = Record<string, unknown>;

/** What is different from a fresh session, as readable strings; [] when clean. */
export async function differences(client: Client, baseline: SessionState): Promise<string[]> {
  const status = client.getTransactionStatus();
  if (status !== "I") return [`transaction status ${status}`];
  let state: SessionState;
  try {
    state = (await client.query<SessionState>(PROBE)).rows[0] as SessionState;
  } catch (error) {
    return [`probe failed: ${(error as Error).message}`];
  }
  const out: string[] = [];
  for (const [key, value] of Object.entries(baseline)) {
    if (key === "protocol_prepared") continue;
    if (state[key] !== value) out.push(`${key}: ${String(value)} -> ${String(state[key])}`);
  }
  // pg's cache of named statements must match the server exactly, or the next named query fails
  // ("prepared statement does not exist", or "already exists")
  const cached = Object.keys(
    (client as unknown as { connection: { parsedStatements: object } }).connection.parsedStatements,
  ).sort();
  const onServer = [...(state["protocol_prepared"] as string[])].sort();
  if (cached.join() !== onServer.join())
    out.push(`named statements: pg caches [${cached}], server has [${onServer}]`);
  return out;
}

export async function freshBaseline(url: string): Promise<SessionState> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const client = await pool.connect();
    const state = (await client.query<SessionState>(PROBE)).rows[0] as SessionState;
    client.release();
    return state;
  } finally {
    await pool.end();
  }
}

/** The actions a run under `reset` must clean: all of them, or what 'auto' sees. */
export function usableActions(role: string, reset: ResetMode): readonly Action[] {
  return actionsFor(role).filter((a) => reset === "always" || a.autoSees);
}

export interface Leak {
  lease: number;
  previous: string[];
  found: string[];
}

export interface CycleResult {
  leaks: Leak[];
  unexpected: string[];
  used: Map<string, number>;
  millis: number;
  stats: ReturnType<Pool["stats"]>;
}

/**
 * `leases` randomized lease cycles on a pool of {@link WORKERS} connections, {@link WORKERS} at a
 * time: each lease first checks what the previous borrower of its session left, then leaves a
 * random mix (0 to 3 actions), and is released in one of pg's ways.
 */
export async function leaseCycles(
  url: string,
  reset: ResetMode,
  role: string,
  leases: number,
): Promise<CycleResult> {
  const baseline = await freshBaseline(url);
  const pool = new Pool({ connectionString: url, max: WORKERS, reset });
  const usable = usableActions(role, reset);
  const viaPoolQuery = usable.filter((a) => a.viaPoolQuery !== undefined);
  const random = seededRandom(SEED);
  const leaks: Leak[] = [];
  const unexpected: string[] = [];
  const used = new Map<string, number>();
  const count = (name: string) => used.set(name, (used.get(name) ?? 0) + 1);
  // what the last lease on each backend did, to name the culprit of a leak
  const previousOn = new Map<number, string[]>();
  let next = 0;
  const started = performance.now();

  /** One lease: check what the previous borrower of this session left, then leave a mess. */
  async function lease(n: number): Promise<void> {
    if (random() < 0.05) {
      // a whole lease through pool.query(): one statement, released by the pool
      const action = viaPoolQuery[Math.floor(random() * viaPoolQuery.length)] as Action;
      count(`${action.name} (pool.query)`);
      await pool.query(action.viaPoolQuery as string);
      return;
    }
    const client = await pool.connect();
    const pid = (client as unknown as { processID: number }).processID;
    const found = await differences(client, baseline);
    if (found.length > 0) leaks.push({ lease: n, previous: previousOn.get(pid) ?? [], found });
    const names: string[] = [];
    const actionCount = Math.floor(random() * 4); // 0 to 3 actions
    for (let i = 0; i < actionCount; i++) {
      const action = usable[Math.floor(random() * usable.length)] as Action;
      names.push(action.name);
      count(action.name);
      try {
        await action.run(client, n * 4 + i, pool);
      } catch (error) {
        // expected when actions meet: anything after a failed statement in an open transaction
        // (25P02), DISCARD ALL inside a transaction (25001)
        const code = (error as { code?: string }).code;
        if (code !== "25P02" && code !== "25001")
          unexpected.push(`${action.name}: ${(error as Error).message}`);
      }
      if (action.endsLease === true) break;
    }
    previousOn.set(pid, names);
    const how = random();
    if (how < 0.05) client.release(new Error("the application's own error"));
    else if (how < 0.06) client.release(true);
    else client.release();
  }

  try {
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (next < leases) await lease(next++);
      }),
    );
    // and check every session once more after the last lease
    const last = await Promise.all(Array.from({ length: WORKERS }, () => pool.connect()));
    for (const client of last) {
      const found = await differences(client, baseline);
      if (found.length > 0) leaks.push({ lease: leases, previous: [], found });
    }
    for (const client of last) client.release();
  } finally {
    await pool.end();
  }

  return {
    leaks,
    unexpected,
    used,
    millis: performance.now() - started,
    stats: pool.stats(),
  };
}
