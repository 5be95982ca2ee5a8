import type { Lease } from "@lifeguard/core";
import type pg from "pg";
import { noteTimeouts } from "./client-handle.js";
import { corkSocket, setPipelined, setRef, uncorkSocket } from "./pg-internals.js";
import type { PipelineEligibility } from "./pipeline-eligibility.js";
import type { SessionState } from "./session.js";
import { sessionOf } from "./session.js";

/** `pipelineQueries` once validated. @internal */
export interface PipelineSettings {
  /** Queries in flight on one connection at most. */
  readonly depth: number;
  /** A connection whose oldest query has run this long takes no more queries behind it. */
  readonly headOfLineMillis: number;
}

/** What the pipeline needs from the pool that owns it. @internal */
export interface PipelineHost {
  /** Borrows a connection (counted by the pool as lent). */
  acquire(): Promise<Lease<pg.Client>>;
  /** Gives a connection back; `error` is the one of its queries' errors that decides its fate. */
  release(lease: Lease<pg.Client>, error: Error | undefined): void;
  /** This error retires the connection (a dead connection's, or one `evictOnSqlState` lists). */
  retires(client: pg.Client, error: Error): boolean;
  /** A connection can be lent without anyone waiting (fewer are out than `max`). */
  hasRoom(): boolean;
  /** Borrowers outside the pipeline (`pool.connect()`, unpipelined queries) are waiting. */
  othersWaiting(): boolean;
  /** pg.Pool's wording for an acquire's error. */
  compatible(error: unknown): unknown;
  readonly now: () => number;
  /** pg's own `pipeline` client option: the mode a connection goes back to when it is quiet. */
  readonly clientPipelined: boolean;
}

/**
 * A connection takes no new queries once its lease is this old: it drains and goes back to the
 * pool, so the engine's lifetime, eviction, leak watch and pre-ping see it come back under a
 * steady load too (and borrows it again at once when queries wait).
 */
const HOLD_MILLIS = 1000;

type Resolve = (result: unknown) => void;
type Reject = (error: unknown) => void;

interface Job {
  readonly config: unknown;
  readonly values: unknown;
  readonly eligibility: PipelineEligibility;
  readonly resolve: Resolve;
  readonly reject: Reject;
}

/** One lent connection carrying pipelined queries. */
interface Slot {
  readonly lease: Lease<pg.Client>;
  readonly client: pg.Client;
  readonly session: SessionState | undefined;
  inFlight: number;
  /** When the lease began. */
  readonly leasedAt: number;
  /** When the oldest query in flight started running (the one before it finished). */
  headSince: number;
  /** Writes are held until the end of this tick (one packet for the tick's queries). */
  corked: boolean;
  /**
   * The error that decides the connection's fate on release: the first that retires it, else the
   * last statement error (which keeps it).
   */
  error: Error | undefined;
  /** An error retires the connection: it takes no more queries. */
  retiring: boolean;
}

/**
 * Opt-in pipelining of `pool.query()` (`pipelineQueries`, docs/pipelining.md): a query that the
 * classifier proves session-clean is written onto a connection already running other such
 * queries, up to `depth` in flight, each with its own Sync (pg's pipeline mode), so an error stays
 * with its own query. A connection is lent (and, when it is quiet again, released) through the
 * pool like any other: pre-ping, reset and release verdicts apply per lease, and a connection goes
 * back to the pool only when its last query has finished.
 *
 * Placement: while a connection is free, a query takes one of its own (parallelism first); when
 * none is, it joins the busy connection with the fewest queries in flight, unless that one's oldest
 * query has run `headOfLineMillis` (head-of-line guard), its session is no longer clean, or someone
 * outside the pipeline waits for a connection (they are not starved). Otherwise it waits in the
 * pipeline's FIFO for the next query to finish or a connection to come free.
 * @internal
 */
export class QueryPipeline {
  private readonly settings: PipelineSettings;
  private readonly host: PipelineHost;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private queueHead = 0;
  /** Acquires in flight on behalf of the queue. */
  private acquiring = 0;

  constructor(settings: PipelineSettings, host: PipelineHost) {
    this.settings = settings;
    this.host = host;
  }

  submit(
    config: unknown,
    values: unknown,
    eligibility: PipelineEligibility,
    resolve: Resolve,
    reject: Reject,
  ): void {
    const job: Job = { config, values, eligibility, resolve, reject };
    if (this.queued() === 0 && !this.host.hasRoom()) {
      const slot = this.pick(job);
      if (slot !== undefined) {
        this.send(slot, job);
        return;
      }
    }
    this.queue.push(job);
    this.pump();
  }

  /** The pool is closing and stopped waiting: queries still waiting for a connection fail. */
  rejectQueued(error: unknown): void {
    for (let job = this.shift(); job !== undefined; job = this.shift()) job.reject(error);
  }

  /** A connection may have come free outside the pipeline: serve the queue from it. */
  wake(): void {
    if (this.queued() > 0) this.pump();
  }

  private queued(): number {
    return this.queue.length - this.queueHead;
  }

  private shift(): Job | undefined {
    if (this.queueHead >= this.queue.length) return undefined;
    const job = this.queue[this.queueHead] as Job;
    this.queue[this.queueHead] = undefined as unknown as Job;
    this.queueHead++;
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return job;
  }

  /**
   * Borrows connections for the queue: one per waiting query while the pool has room, and one
   * even when it has none. That one waits in the engine's queue like any borrower: it is handed
   * the next connection given back (a pipelined one drains at least every second), and when none
   * comes within the acquire timeout the oldest waiting query fails with the pool's error, as it
   * would without pipelining, rather than waiting behind hung queries for ever.
   */
  private pump(): void {
    while (this.queued() > this.acquiring && (this.acquiring === 0 || this.host.hasRoom())) {
      this.acquiring++;
      this.host.acquire().then(
        (lease) => this.leased(lease),
        (error: unknown) => {
          this.acquiring--;
          // the oldest waiting query meets the pool's error (timeout, closed, database down)
          this.shift()?.reject(this.host.compatible(error));
          this.pump();
        },
      );
    }
  }

  private leased(lease: Lease<pg.Client>): void {
    const session = sessionOf(lease.connection);
    if (session?.pendingClean !== undefined) {
      // the previous borrower's clean-up finishes before this connection runs anything
      void session.pendingClean.then(() => this.leased(lease));
      return;
    }
    if (session?.broken === true) {
      // its clean-up failed or ran out of time: closed, and another connection is borrowed
      this.acquiring--;
      this.host.release(lease, undefined);
      this.pump();
      return;
    }
    this.acquiring--;
    const first = this.shift();
    if (first === undefined) {
      // the queries it was borrowed for went onto connections that finished first
      this.host.release(lease, undefined);
      return;
    }
    if (session !== undefined) session.leased = true;
    // held while anyone is borrowing, so allowExitOnIdle never ends the process under a query
    setRef(lease.connection, true);
    const now = this.host.now();
    const slot: Slot = {
      lease,
      client: lease.connection,
      session,
      inFlight: 0,
      leasedAt: now,
      headSince: now,
      corked: false,
      error: undefined,
      retiring: false,
    };
    this.slots.push(slot);
    this.send(slot, first);
    // more waiting than connections coming for them: the surplus joins this one
    while (this.queued() > this.acquiring && this.accepts(slot, this.peek())) {
      this.send(slot, this.shift() as Job);
    }
    // what this connection could not take waits on a borrow of its own (bounded by its timeout)
    if (this.queued() > 0) this.pump();
  }

  private peek(): Job | undefined {
    return this.queue[this.queueHead];
  }

  /** The busy connection with the fewest queries in flight that may take `job`. */
  private pick(job: Job): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.slots) {
      if ((best === undefined || slot.inFlight < best.inFlight) && this.accepts(slot, job))
        best = slot;
    }
    return best;
  }

  private accepts(slot: Slot, job: Job | undefined): boolean {
    if (job === undefined || slot.inFlight >= this.settings.depth) return false;
    const session = slot.session;
    if (session !== undefined) {
      // a session that changed, or died, takes no more queries; it goes back once drained
      if (session.broken || session.dirty || !session.standardConformingStrings) return false;
      if (job.eligibility === "userCode" && !session.reportsSearchPath) return false;
    }
    if (slot.retiring) return false;
    const now = this.host.now();
    if (now - slot.leasedAt >= HOLD_MILLIS) return false;
    if (slot.inFlight > 0 && now - slot.headSince >= this.settings.headOfLineMillis) return false;
    return !this.host.othersWaiting();
  }

  private send(slot: Slot, job: Job): void {
    const client = slot.client;
    if (slot.inFlight === 0) slot.headSince = this.host.now();
    else {
      if (!this.host.clientPipelined) setPipelined(client, true);
      if (!slot.corked) {
        // a pipelined connection's queries of this tick leave in one write
        slot.corked = true;
        corkSocket(client);
        process.nextTick(uncork, slot);
      }
    }
    slot.inFlight++;
    if (slot.session !== undefined) noteTimeouts(job.config, slot.session);
    const done = (error: Error | null | undefined, result: unknown) =>
      this.finished(slot, job, error ?? undefined, result);
    try {
      (client.query as unknown as RawQuery).call(client, job.config, job.values, done);
    } catch (error) {
      done(error instanceof Error ? error : new Error(String(error)), undefined);
    }
  }

  private finished(slot: Slot, job: Job, error: Error | undefined, result: unknown): void {
    slot.inFlight--;
    // the next query in line started running when this one finished
    slot.headSince = this.host.now();
    if (error !== undefined && !slot.retiring) {
      slot.error = error;
      slot.retiring = this.host.retires(slot.client, error);
    }
    if (slot.inFlight === 0) this.retire(slot);
    else if (this.queued() > 0 && this.accepts(slot, this.peek())) {
      this.send(slot, this.shift() as Job);
    }
    if (error === undefined) job.resolve(result);
    else job.reject(error);
  }

  /** The connection's last query finished: back to the pool, and the queue served from there. */
  private retire(slot: Slot): void {
    if (this.queued() > 0 && this.accepts(slot, this.peek())) {
      // still wanted: keep the lease rather than releasing and borrowing it again
      this.send(slot, this.shift() as Job);
      return;
    }
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    // quiet now: pg's ordinary mode again, for the next borrower (pool.connect() may use cursors)
    if (!this.host.clientPipelined) setPipelined(slot.client, false);
    this.host.release(slot.lease, slot.error);
    this.wake();
  }
}

type RawQuery = (
  config: unknown,
  values: unknown,
  callback: (error: Error | null | undefined, result: unknown) => void,
) => void;

function uncork(slot: Slot): void {
  slot.corked = false;
  uncorkSocket(slot.client);
}
