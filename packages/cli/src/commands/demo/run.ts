import diagnosticsChannel from "node:diagnostics_channel";
import type { LeakEvent } from "@lifeguard/core";
import { channelNames } from "@lifeguard/core";
import { type EmbeddedPostgres, type FaultProxy, startFaultProxy } from "@lifeguard/embedded";
import pg from "pg";
import { type FaultWindow, figuresOf, HANG_MILLIS, type PoolFigures } from "./figures.js";
import { type Phase, type PhaseContext, phases, type ScenarioName } from "./phases.js";
import { loadPrismaSubject } from "./prisma-subject.js";
import {
  type DemoSubject,
  demoSubjects,
  LIFEGUARD_SETTINGS,
  POOL_MAX,
  type SubjectFactory,
} from "./subjects.js";
import { Gate, REQUESTS_PER_SECOND, RequestLog, runWorkload } from "./workload.js";

export type { PoolFigures } from "./figures.js";
export type { ScenarioName } from "./phases.js";

/** One phase: its fault, and every pool's figures. */
export interface PhaseResult {
  readonly name: ScenarioName;
  readonly title: string;
  readonly what: string;
  /** Why the phase did not run (it needs the demo's own server), or undefined when it ran. */
  readonly skipped: string | undefined;
  readonly durationMillis: number;
  readonly fault:
    | (FaultWindow & { readonly details: Readonly<Record<string, number>> })
    | undefined;
  readonly subjects: readonly PoolFigures[];
}

export interface DemoResult {
  readonly quick: boolean;
  /** "embedded": the demo's own server; "DATABASE_URL": the user's, never restarted. */
  readonly database: "embedded" | "DATABASE_URL";
  readonly hangThresholdMillis: number;
  readonly settings: {
    readonly poolMax: number;
    /** Arrivals per second, the same for every pool (some of them slow queries). */
    readonly requestsPerSecondPerPool: number;
    readonly lifeguard: typeof LIFEGUARD_SETTINGS;
    readonly plain: string;
  };
  readonly durationMillis: number;
  readonly phases: readonly PhaseResult[];
  /**
   * True when no Lifeguard pool leaked a session or hung a request in any phase, and none failed
   * a request in the kills and network-cut phases other than a query killed while it ran.
   */
  readonly lifeguardLostNothing: boolean;
}

export interface DemoOptions {
  /** The server of the phases that leave it running (kills, network cut, leaks). */
  readonly url: string;
  /**
   * The demo's own server, which the restart and down phases stop and start; without it they are
   * skipped. Best a server of its own: requests still settling from an earlier phase are then
   * never caught by a restart meant for another phase. A promise is awaited when a phase needs it,
   * so the server can start while the first phases run.
   */
  readonly server?: EmbeddedPostgres | Promise<EmbeddedPostgres>;
  /** Whose server `url` is, for the report; by default "embedded" when `server` is given. */
  readonly database?: DemoResult["database"];
  readonly quick?: boolean;
  /** Run this phase alone. */
  readonly scenario?: ScenarioName;
  /** A generated Prisma Client module: adds Prisma on Lifeguard to the comparison. */
  readonly prismaClient?: string;
  readonly onPhase?: (phase: Phase, index: number, of: number, skipped: string | undefined) => void;
  readonly onEvent?: (atMillis: number, text: string) => void;
  /** Called about four times a second while a phase runs. */
  readonly onProgress?: (progress: DemoProgress) => void;
}

export interface DemoProgress {
  readonly phase: ScenarioName;
  readonly elapsedMillis: number;
  readonly subjects: readonly {
    readonly name: string;
    readonly succeeded: number;
    readonly failed: number;
    readonly waiting: number;
    readonly sessionsLeaked: number;
  }[];
}

const ACCOUNTS = 100;

/** Runs every phase (or one) through every pool; resolves with the comparison. */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  // the optional Prisma client first: if it cannot be loaded, nothing has been opened yet
  const factories: SubjectFactory[] = [...demoSubjects];
  if (options.prismaClient !== undefined)
    factories.push(await loadPrismaSubject(options.prismaClient));
  await createTable(options.url);
  let ownServer: Promise<EmbeddedPostgres> | undefined;
  const ownServerReady = () => {
    ownServer ??= Promise.resolve(
      options.server as EmbeddedPostgres | Promise<EmbeddedPostgres>,
    ).then(async (server) => {
      if (server.url !== options.url) await createTable(server.url);
      return server;
    });
    return ownServer;
  };

  const leaks = new Map<string, { count: number; stack: string | undefined }>();
  const onLeak = (message: unknown) => {
    const event = message as LeakEvent;
    const seen = leaks.get(event.pool.name) ?? { count: 0, stack: undefined };
    seen.count++;
    seen.stack ??= event.stack;
    leaks.set(event.pool.name, seen);
  };
  diagnosticsChannel.subscribe(channelNames.leak, onLeak);

  const started = performance.now();
  const chosen = phases.filter(
    (p) => options.scenario === undefined || p.name === options.scenario,
  );
  const settling: Promise<PhaseResult>[] = [];
  const closing: Promise<void>[] = [];
  try {
    for (const [index, phase] of chosen.entries()) {
      const skipped =
        phase.needsOwnServer && options.server === undefined
          ? "DATABASE_URL is set: the demo restarts and stops only a server it started itself, never yours"
          : undefined;
      options.onPhase?.(phase, index, chosen.length, skipped);
      if (skipped !== undefined) {
        settling.push(Promise.resolve(skippedPhase(phase, skipped)));
        continue;
      }
      // the next phase starts while this one's hung requests wait out their 5 s
      const server = phase.needsOwnServer ? await ownServerReady() : undefined;
      const { result, closed } = await runPhase(phase, factories, options, server, leaks);
      settling.push(result);
      closing.push(closed);
    }
    const results = await Promise.all(settling);
    // what is still closing is a pool waiting for a connection it cleans: not worth waiting for
    await bounded(Promise.all(closing), 300);
    return {
      quick: options.quick === true,
      database: options.database ?? (options.server === undefined ? "DATABASE_URL" : "embedded"),
      hangThresholdMillis: HANG_MILLIS,
      settings: {
        poolMax: POOL_MAX,
        requestsPerSecondPerPool: REQUESTS_PER_SECOND,
        lifeguard: LIFEGUARD_SETTINGS,
        plain: "pg.Pool's defaults (no acquire deadline) with the same max",
      },
      durationMillis: performance.now() - started,
      phases: results,
      lifeguardLostNothing: results.every((phase) =>
        phase.subjects.every((s) => !s.lifeguard || lostNothing(phase.name, s)),
      ),
    };
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.leak, onLeak);
  }
}

function lostNothing(phase: ScenarioName, s: PoolFigures): boolean {
  if (s.sessionsLeaked > 0 || s.hung > 0) return false;
  return phase === "kills" || phase === "network-cut" ? s.failed === s.killedMidQuery : true;
}

async function createTable(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url, application_name: "lifeguard-demo-setup" });
  admin.on("error", () => undefined);
  await admin.connect();
  try {
    await admin.query(
      "create table if not exists demo_accounts (id int primary key, balance int not null)",
    );
    await admin.query(
      "insert into demo_accounts select g, 1000 from generate_series(1, $1) g on conflict (id) do nothing",
      [ACCOUNTS],
    );
  } finally {
    await admin.end().catch(() => undefined);
  }
}

function skippedPhase(phase: Phase, reason: string): PhaseResult {
  return {
    name: phase.name,
    title: phase.title,
    what: phase.what,
    skipped: reason,
    durationMillis: 0,
    fault: undefined,
    subjects: [],
  };
}

/**
 * Runs one phase's workload and faults; resolves when its active part is over, with its result to
 * come: that settles once every request has ended or waited 5 s (an async function would wait).
 */
async function runPhase(
  phase: Phase,
  factories: readonly SubjectFactory[],
  options: DemoOptions,
  server: EmbeddedPostgres | undefined,
  leaks: ReadonlyMap<string, { count: number; stack: string | undefined }>,
): Promise<{ readonly result: Promise<PhaseResult>; readonly closed: Promise<void> }> {
  const target = server?.url ?? options.url;
  const proxy = await startFaultProxy(target);
  const subjects: DemoSubject[] = [];
  try {
    for (const factory of factories)
      subjects.push(factory({ url: proxy.url(), phase: phase.name }));
  } catch (error) {
    await Promise.all(subjects.map((s) => s.close().catch(() => undefined)));
    await proxy.close();
    throw error;
  }
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const logs = subjects.map(() => new RequestLog(now));
  const leasesLeaked = subjects.map(() => 0);
  let running = true;
  let stoppedAt: number | undefined;
  const gate = new Gate();
  const arrivalSeconds = () => {
    const at = stoppedAt ?? performance.now();
    return (at - t0 - gate.closedMillis(at)) / 1000;
  };
  const workers = subjects.map((subject, i) =>
    runWorkload(subject, logs[i] as RequestLog, {
      running: () => running,
      gate,
      arrivalSeconds,
    }),
  );
  const context: PhaseContext = {
    url: target,
    proxy,
    server,
    quick: options.quick === true,
    subjects,
    logs,
    gate,
    now,
    event: (text) => options.onEvent?.(now(), text),
    leaked: (i) => {
      leasesLeaked[i] = (leasesLeaked[i] ?? 0) + 1;
    },
  };
  const progress = (): DemoProgress => ({
    phase: phase.name,
    elapsedMillis: now(),
    subjects: subjects.map((s, i) => {
      const log = logs[i] as RequestLog;
      return {
        name: s.name,
        succeeded: log.records.filter((r) => r.outcome === "ok").length,
        failed: log.records.filter((r) => r.outcome === "failed").length,
        waiting: log.inFlight.length,
        sessionsLeaked: log.sessionsLeaked,
      };
    }),
  });
  const ticker = setInterval(() => options.onProgress?.(progress()), 250);
  let fault: PhaseResult["fault"];
  try {
    fault = await phase.inject(context);
  } finally {
    stoppedAt = performance.now();
    running = false;
    gate.open();
    clearInterval(ticker);
    options.onProgress?.(progress());
  }
  const activeMillis = now();
  const poolErrorEvents = subjects.map((s) => s.poolErrors.count);

  const settle = async (): Promise<PhaseResult> => {
    // a request that has not ended is given until it has waited 5 s: then it counts as hung
    while (logs.some((log) => log.inFlight.some((r) => now() - r.startedAt < HANG_MILLIS))) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const log of logs) log.freeze();
    const figures = subjects.map((subject, i) => {
      const leak = subject.poolName === undefined ? undefined : leaks.get(subject.poolName);
      return figuresOf(
        logs[i] as RequestLog,
        {
          name: subject.name,
          lifeguard: subject.lifeguard,
          poolErrorEvents: poolErrorEvents[i] ?? 0,
          leasesLeaked: leasesLeaked[i] ?? 0,
          leaksReported: leak?.count ?? 0,
          leakReportStack: leak?.stack === undefined ? undefined : appFrames(leak.stack),
        },
        fault,
      );
    });
    return {
      name: phase.name,
      title: phase.title,
      what: phase.what,
      skipped: undefined,
      durationMillis: activeMillis,
      fault,
      subjects: figures,
    };
  };
  const result = settle();
  // a reset ends what still hangs (no pool gets out of a silenced connection by itself); closing
  // may take a while (a pool waits for connections it is still cleaning), so nobody waits for it
  // but the very end of the run
  const closed = result.then(
    () => closeAll(proxy, subjects, workers),
    () => closeAll(proxy, subjects, workers),
  );
  result.catch(() => undefined); // awaited with the others at the end; never unhandled meanwhile
  return { result, closed };
}

async function closeAll(
  proxy: FaultProxy,
  subjects: readonly DemoSubject[],
  workers: readonly Promise<void>[],
): Promise<void> {
  await proxy.close();
  await Promise.all([
    ...subjects.map((s) => s.close().catch(() => undefined)),
    Promise.allSettled(workers),
  ]);
}

function bounded(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The stack's frames outside Lifeguard and node: where the application took the lease. */
function appFrames(stack: string): string {
  const frames = stack
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("at "))
    .filter(
      (line) =>
        !/node:|node_modules|[/\\]packages[/\\](core|pg|drizzle|knex|prisma)[/\\]/.test(line),
    );
  return frames.slice(0, 2).join("\n");
}
