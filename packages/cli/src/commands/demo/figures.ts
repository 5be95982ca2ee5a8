import type { RequestLog, RequestRecord } from "./workload.js";

/** A request that waited this long is hung, whether it ended later or never. */
export const HANG_MILLIS = 5000;

/** When a phase's fault hit, in ms since the phase began. */
export interface FaultWindow {
  /** The first fault. */
  readonly startMillis: number;
  /** When the fault was over (database back, last kill, network path usable for new connections). */
  readonly endMillis: number;
}

/** What one pool's requests saw during one phase: the table's row. */
export interface PoolFigures {
  readonly name: string;
  readonly lifeguard: boolean;
  /** Requests started during the phase. */
  readonly requests: number;
  readonly succeeded: number;
  /** Requests that ended in an error (killedMidQuery included). */
  readonly failed: number;
  /** Of the failed: queries running when their own backend was terminated (unavoidable, any pool). */
  readonly killedMidQuery: number;
  /** Requests that waited 5 s or more, whether they ended later or never. */
  readonly hung: number;
  /** 99th percentile of request latency; a hung request counts with what it had waited. */
  readonly p99LatencyMillis: number;
  /**
   * From the end of the fault to the first success after the last failed or hung request; null
   * when the pool did not serve again before the phase ended (or a request was still hung).
   */
  readonly timeToRecoverMillis: number | null;
  /** Requests that found another request's session state on their connection. */
  readonly sessionsLeaked: number;
  /** 'error' events the pool emitted during the phase (delivered to the demo's listener). */
  readonly poolErrorEvents: number;
  /** Leases taken and never given back on purpose (the leaked-lease phase). */
  readonly leasesLeaked: number;
  /** Leak reports Lifeguard published, each with the stack that acquired the lease. */
  readonly leaksReported: number;
  /** The first frames of the first leak report's stack. */
  readonly leakReportStack: string | undefined;
  /** A few of the errors the application saw. */
  readonly sampleErrors: readonly string[];
}

export interface PoolFacts {
  readonly name: string;
  readonly lifeguard: boolean;
  readonly poolErrorEvents: number;
  readonly leasesLeaked: number;
  readonly leaksReported: number;
  readonly leakReportStack: string | undefined;
}

/** Sums up a frozen log. */
export function figuresOf(
  log: RequestLog,
  facts: PoolFacts,
  fault: FaultWindow | undefined,
): PoolFigures {
  const records = log.records;
  const latency = (r: RequestRecord) =>
    r.endedAt === undefined ? (r.abandonedAfter ?? 0) : r.endedAt - r.startedAt;
  const hung = (r: RequestRecord) => latency(r) >= HANG_MILLIS || r.endedAt === undefined;
  return {
    ...facts,
    requests: records.length,
    succeeded: records.filter((r) => r.outcome === "ok" && !hung(r)).length,
    failed: records.filter((r) => r.outcome === "failed").length,
    killedMidQuery: records.filter((r) => r.killedMidQuery).length,
    hung: records.filter(hung).length,
    p99LatencyMillis: percentile(records.map(latency), 0.99),
    timeToRecoverMillis: fault === undefined ? null : recovery(records, fault, hung),
    sessionsLeaked: log.sessionsLeaked,
    sampleErrors: [...log.samples],
  };
}

function recovery(
  records: readonly RequestRecord[],
  fault: FaultWindow,
  hung: (r: RequestRecord) => boolean,
): number | null {
  let lastBad = fault.endMillis;
  for (const r of records) {
    if (r.outcome !== "failed" && !hung(r)) continue;
    if (r.endedAt === undefined) return null; // still hung when the phase ended
    if (r.endedAt >= fault.startMillis) lastBad = Math.max(lastBad, r.endedAt);
  }
  let recoveredAt: number | undefined;
  for (const r of records) {
    if (r.outcome !== "ok" || hung(r) || r.endedAt === undefined || r.endedAt < lastBad) continue;
    if (recoveredAt === undefined || r.endedAt < recoveredAt) recoveredAt = r.endedAt;
  }
  return recoveredAt === undefined ? null : recoveredAt - fault.endMillis;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}
