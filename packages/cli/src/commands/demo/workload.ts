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

/** Stops the arrivals for a quiet moment; the time it stays closed does not count as arrival time. */
export class Gate {
  #closed: { promise: Promise<void>; open: () => void; at: number } | undefined;
  #closedMillis = 0;

  close(): void {
    if (this.#closed !== undefined) return;
    let open = () => {};
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.#closed = { promise, open, at: performance.now() };
  }

  open(): void {
    if (this.#closed === undefined) return;
    this.#closedMillis += performance.now() - this.#closed.at;
    this.#closed.open();
    this.#closed = undefined;
  }

  async pass(): Promise<void> {
    await this.#closed?.promise;
  }

  /** How long it has been closed in all, up to `now`. */
  closedMillis(now: number): number {
    return this.#closedMillis + (this.#closed === undefined ? 0 : now - this.#closed.at);
  }
}

export interface WorkloadControl {
  readonly running: () => boolean;
  readonly gate: Gate;
  /**
   * Seconds of arrivals so far, one clock for every pool of the phase: it stands still while the
   * gate is closed and stops for good when the phase does, so every pool gets the same requests.
   */
  readonly arrivalSeconds: () => number;
}

const ACCOUNTS = 100;
/** Requests that arrive per second, on every pool alike. */
export const REQUESTS_PER_SECOND = 25;
/** Of which slow queries (0.3 s: what the busy kills hit while it runs). */
export const SLOW_PER_SECOND = 3;

/**
 * The whole workload on one pool: requests arriving at a fixed rate, whether earlier ones ended or
 * not (as web traffic does: a pool that fails fast gets no more requests than one that hangs).
 * Resolves when no more arrive; the requests still running are the phase's to wait for.
 */
export async function runWorkload(
  subject: DemoSubject,
  log: RequestLog,
  { running, gate, arrivalSeconds }: WorkloadControl,
): Promise<void> {
  let issued = 0;
  let issuedSlow = 0;
  let n = 0;
  for (;;) {
    await gate.pass();
    const elapsed = arrivalSeconds();
    const slowDue = Math.floor(elapsed * SLOW_PER_SECOND);
    for (; issuedSlow < slowDue; issuedSlow++) void log.track(() => subject.slow());
    const due = Math.floor(elapsed * (REQUESTS_PER_SECOND - SLOW_PER_SECOND));
    for (; issued < due; issued++) void request(subject, log, n++);
    if (!running()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One request of the mix: a read, a transfer, a careless request, or one that checks for it. */
async function request(subject: DemoSubject, log: RequestLog, n: number): Promise<void> {
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
