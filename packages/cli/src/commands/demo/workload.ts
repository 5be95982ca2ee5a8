import type { DemoSubject } from "./subjects.js";

/** One request of the workload, as the application saw it. Times are ms since the phase began. */
export interface RequestRecord {
  readonly startedAt: number;
  /** When it settled; undefined while it is still waiting. */
  endedAt: number | undefined;
  outcome: "pending" | "ok" | "failed";
  /** Failed because its own backend was terminated while the query ran (SQLSTATE 57P01). */
  killedMidQuery: boolean;
  /** Still waiting when the phase gave up on it: how long it had waited by then. */
  abandonedAfter: number | undefined;
}

/** Everything one pool's requests did during one phase. */
export class RequestLog {
  readonly records: RequestRecord[] = [];
  readonly #inFlight = new Set<RequestRecord>();
  sessionsLeaked = 0;
  readonly samples = new Set<string>();
  #frozen = false;

  constructor(readonly now: () => number) {}

  get inFlight(): readonly RequestRecord[] {
    return [...this.#inFlight];
  }

  /** Runs one request and records how it went, unless the phase has already been summed up. */
  async track<T>(fn: () => Promise<T>): Promise<T | undefined> {
    const record: RequestRecord = {
      startedAt: this.now(),
      endedAt: undefined,
      outcome: "pending",
      killedMidQuery: false,
      abandonedAfter: undefined,
    };
    this.records.push(record);
    this.#inFlight.add(record);
    try {
      const result = await fn();
      if (!this.#frozen) Object.assign(record, { endedAt: this.now(), outcome: "ok" });
      return result;
    } catch (error) {
      if (!this.#frozen) {
        Object.assign(record, {
          endedAt: this.now(),
          outcome: "failed",
          killedMidQuery: killedMidQuery(error),
        });
        if (this.samples.size < 3 && !record.killedMidQuery) this.samples.add(messageOf(error));
      }
      return undefined;
    } finally {
      this.#inFlight.delete(record);
    }
  }

  /** Sums up: a request still waiting now is recorded as abandoned after its wait so far. */
  freeze(): void {
    if (this.#frozen) return;
    this.#frozen = true;
    const now = this.now();
    for (const record of this.#inFlight) record.abandonedAfter = now - record.startedAt;
  }

  get frozen(): boolean {
    return this.#frozen;
  }
}

/** Lets every worker finish its request and wait, then go on together: a quiet moment. */
export class Gate {
  #closed: { promise: Promise<void>; open: () => void } | undefined;

  close(): void {
    if (this.#closed !== undefined) return;
    let open = () => {};
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.#closed = { promise, open };
  }

  open(): void {
    this.#closed?.open();
    this.#closed = undefined;
  }

  async pass(): Promise<void> {
    await this.#closed?.promise;
  }
}

export interface WorkloadControl {
  readonly running: () => boolean;
  readonly gate: Gate;
}

const ACCOUNTS = 100;
export const CONCURRENCY = 8;

/** The whole workload on one pool: request mix workers plus one slow-query worker. */
export function runWorkload(
  subject: DemoSubject,
  log: RequestLog,
  control: WorkloadControl,
): Promise<void>[] {
  return [
    ...Array.from({ length: CONCURRENCY }, (_, id) => worker(subject, log, id, control)),
    slowWorker(subject, log, control),
  ];
}

/** Reads, transfers, careless requests that set session state, and requests that check for it. */
async function worker(
  subject: DemoSubject,
  log: RequestLog,
  id: number,
  { running, gate }: WorkloadControl,
): Promise<void> {
  let n = id;
  while (running()) {
    await gate.pass();
    if (!running()) break;
    n++;
    const roll = (n * 7919) % 100;
    if (roll < 55) await log.track(() => subject.read((n % ACCOUNTS) + 1));
    else if (roll < 75) {
      // always the lower id first: concurrent transfers never deadlock
      const a = (n % (ACCOUNTS - 1)) + 1;
      await log.track(() => subject.transfer(a, a + 1));
    } else if (roll < 85) await log.track(() => subject.dirty(`tenant-${n}`));
    else {
      const tenant = await log.track(() => subject.probe());
      if (tenant !== undefined && tenant !== "" && !log.frozen) log.sessionsLeaked++;
    }
    // think time, as real traffic has: some connections sit idle (and get killed there)
    await new Promise((resolve) => setTimeout(resolve, n % 50));
  }
}

/** Slow queries, one at a time: the ones the busy kills hit mid-flight. */
async function slowWorker(
  subject: DemoSubject,
  log: RequestLog,
  { running, gate }: WorkloadControl,
): Promise<void> {
  while (running()) {
    await gate.pass();
    if (!running()) break;
    const started = performance.now();
    await log.track(() => subject.slow());
    // a request that fails at once must not spin
    if (performance.now() - started < 10) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const IN_FLIGHT = "57P01"; // admin_shutdown: the backend was terminated while running this query

/**
 * The query's own backend was terminated while it ran: SQLSTATE 57P01 somewhere along the error's
 * cause chain (ORMs wrap driver errors; Prisma keeps the server's message but not always its code).
 */
function killedMidQuery(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === "object" && depth < 6; depth++) {
    if ((e as { code?: unknown }).code === IN_FLIGHT) return true;
    const message = (e as { message?: unknown }).message;
    if (
      typeof message === "string" &&
      message.includes("terminating connection due to administrator command")
    ) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : String(error);
}
