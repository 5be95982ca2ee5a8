import type { EmbeddedPostgres, FaultProxy } from "@lifeguard/embedded";
import pg from "pg";
import type { FaultWindow } from "./figures.js";
import type { DemoSubject } from "./subjects.js";
import { POOL_MAX } from "./subjects.js";
import type { Gate, RequestLog } from "./workload.js";

/** How many times a kill round looks for a backend in the state it kills, 50 ms apart. */
const KILL_LOOKS = 10;

/** What a phase's fault schedule can use. Times are ms since the phase began. */
export interface PhaseContext {
  /** The server, directly (not through the proxy): for the backend kills. */
  readonly url: string;
  /** Every pool of the phase connects through it. */
  readonly proxy: FaultProxy;
  /** The demo's own server; undefined with DATABASE_URL (then phases that need it do not run). */
  readonly server: EmbeddedPostgres | undefined;
  readonly quick: boolean;
  readonly subjects: readonly DemoSubject[];
  readonly logs: readonly RequestLog[];
  readonly gate: Gate;
  now(): number;
  /** Prints what just happened, named with the phase's clock. */
  event(text: string): void;
  /** Counts a lease a subject took and did not give back. */
  leaked(subject: number): void;
}

export interface FaultReport extends FaultWindow {
  /** What was done, in numbers (backends killed, connections silenced, restart duration...). */
  readonly details: Readonly<Record<string, number>>;
}

export const scenarioNames = ["kills", "network-cut", "leak", "restart", "down"] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export interface Phase {
  readonly name: ScenarioName;
  readonly title: string;
  /** What is injected, in one line, shown as the phase starts. */
  readonly what: string;
  /** Stops and starts the server: only on the demo's own embedded server. */
  readonly needsOwnServer: boolean;
  /** Runs the fault schedule while the workload runs; resolves when the phase is over. */
  inject(context: PhaseContext): Promise<FaultReport>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = (context: PhaseContext, quick: number, full: number) => (context.quick ? quick : full);

const kills: Phase = {
  name: "kills",
  title: "backend kills",
  what: "pg_terminate_backend on idle and on busy backends, in turn (the failure pg.Pool already survives: the server says goodbye)",
  needsOwnServer: false,
  async inject(context) {
    const admin = new pg.Client({
      connectionString: context.url,
      application_name: "lifeguard-demo-chaos",
    });
    admin.on("error", () => undefined);
    await admin.connect();
    const interval = pick(context, 300, 1000);
    const rounds = pick(context, 2, 8);
    const killed = { idle: 0, busy: 0 };
    const times: number[] = [];
    try {
      for (let round = 1; round <= rounds; round++) {
        await sleep(interval);
        const idle = round % 2 === 1;
        // idle for 100 ms at least: a backend killed in the instant it is lent fails its next
        // statement like a mid-query kill, which is not the idle case this round stands for
        const where = idle
          ? "state = 'idle' and state_change < now() - interval '100 milliseconds'"
          : "state = 'active' and query like '%pg_sleep%'";
        // on a busy machine the instant may find no backend in that state: look again briefly
        let rowCount: number | null = 0;
        for (let look = 0; look < KILL_LOOKS && !rowCount; look++) {
          if (look > 0) await sleep(50);
          ({ rowCount } = await admin
            .query(
              `select pg_terminate_backend(pid) from pg_stat_activity where application_name like 'lifeguard-demo-kills-%' and pid <> pg_backend_pid() and ${where}`,
            )
            .catch(() => ({ rowCount: 0 })));
        }
        times.push(context.now());
        if (idle) killed.idle += rowCount ?? 0;
        else killed.busy += rowCount ?? 0;
        context.event(`killed ${rowCount ?? 0} ${idle ? "idle" : "busy"} backends`);
      }
      await sleep(interval);
    } finally {
      await admin.end().catch(() => undefined);
    }
    return {
      startMillis: times[0] ?? 0,
      endMillis: times.at(-1) ?? 0,
      details: { idleBackendsKilled: killed.idle, busyBackendsKilled: killed.busy },
    };
  },
};

const networkCut: Phase = {
  name: "network-cut",
  title: "silent network cut",
  what: "traffic pauses, then a firewall forgets every open connection: no FIN, no RST, the packets just stop (new connections work)",
  needsOwnServer: false,
  async inject(context) {
    await sleep(pick(context, 400, 2000));
    context.gate.close();
    // everyone finishes what they are doing, then the connections sit idle
    for (let waited = 0; waited < 2000; waited += 20) {
      if (context.logs.every((log) => log.inFlight.length === 0)) break;
      await sleep(20);
    }
    // longer than Lifeguard's pre-ping bypass window (500 ms): an idle-timeout firewall acts on
    // connections that have been idle, not on ones in use
    await sleep(600);
    const silenced = context.proxy.connections;
    context.proxy.silence();
    const at = context.now();
    context.gate.open();
    context.event(`${silenced} open connections silenced; traffic resumes`);
    await sleep(pick(context, 800, 5000));
    return { startMillis: at, endMillis: at, details: { connectionsSilenced: silenced } };
  },
};

const leak: Phase = {
  name: "leak",
  title: "leaked leases",
  what: `a request forgets to release its connection, again and again until all ${POOL_MAX} are gone`,
  needsOwnServer: false,
  async inject(context) {
    const first = pick(context, 100, 500);
    const every = pick(context, 100, 600);
    await sleep(first);
    const times: number[] = [];
    for (let n = 1; n <= POOL_MAX; n++) {
      times.push(context.now());
      // every pool at the same moment; a leak waits for its connection like any request
      context.subjects.forEach((subject, i) => {
        subject.leakLease().then(
          () => context.leaked(i),
          () => undefined,
        );
      });
      context.event(`a request in every pool took a connection and forgot it (${n}/${POOL_MAX})`);
      if (n < POOL_MAX) await sleep(every);
    }
    // the leak reports (leakDetectionThresholdMillis 1000) come in while hung requests wait out
    // their 5 s; in the full run this phase lasts that long anyway
    await sleep(pick(context, 600, 3000));
    return {
      startMillis: times[0] ?? 0,
      endMillis: times.at(-1) ?? 0,
      details: { leaksPerPool: POOL_MAX },
    };
  },
};

const restart: Phase = {
  name: "restart",
  title: "database restart under load",
  what: "the server restarts (fast shutdown, then start) while every pool is busy",
  needsOwnServer: true,
  async inject(context) {
    const server = ownServer(context);
    await sleep(pick(context, 400, 2000));
    const start = context.now();
    context.event("restarting the database");
    await server.restart();
    const end = context.now();
    context.event(`the database is back after ${Math.round(end - start)} ms`);
    await sleep(pick(context, 800, 4000));
    return { startMillis: start, endMillis: end, details: { restartMillis: end - start } };
  },
};

const down: Phase = {
  name: "down",
  title: "database down",
  what: "the server stops for a few seconds, then comes back",
  needsOwnServer: true,
  async inject(context) {
    const server = ownServer(context);
    await sleep(pick(context, 400, 2000));
    const start = context.now();
    await server.stop();
    context.event("the database is down");
    await sleep(pick(context, 800, 3000));
    await server.start();
    const end = context.now();
    context.event(`the database is back after ${Math.round(end - start)} ms`);
    await sleep(pick(context, 800, 4000));
    return { startMillis: start, endMillis: end, details: { downMillis: end - start } };
  },
};

function ownServer(context: PhaseContext): EmbeddedPostgres {
  if (context.server === undefined) throw new Error("this phase needs the demo's own server");
  return context.server;
}

/** In the order they run: the two that can hang run early, so their 5 s of waiting overlaps. */
export const phases: readonly Phase[] = [kills, networkCut, leak, restart, down];
