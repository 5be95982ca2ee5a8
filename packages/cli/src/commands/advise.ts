/** What `lifeguard advise` is asked. */
export interface AdviseInput {
  /** Queries (leases) per second across the whole fleet. */
  readonly rate: number;
  /** Mean time a lease is held, in milliseconds (query time plus the app's work while holding it). */
  readonly holdMillis: number;
  /** Instances sharing the load. Default 1. */
  readonly instances?: number;
  /** CPU cores of the database server, for the (cores × 2) + spindles rule. */
  readonly cores?: number;
  /** Effective spindles (1 for SSD-backed storage). Default 1 when cores is given. */
  readonly spindles?: number;
}

/** The recommendation, with the arithmetic that led to it. */
export interface Advice {
  readonly perInstance: { readonly rate: number; readonly inUse: number; readonly burst: number };
  /** Upper bound for all instances together from (cores × 2) + spindles, if cores was given. */
  readonly serverLimit: number | undefined;
  /** Recommended `max` per instance. */
  readonly max: number;
  readonly explanation: readonly string[];
}

/**
 * Pool sizing, explained. Little's law gives the connections in use on average: L = λ × W. With
 * random arrivals the number in use is roughly Poisson-distributed around L, so L + 3√L covers
 * about 99.9% of moments. The server side caps it: beyond (cores × 2) + spindles active connections
 * a PostgreSQL server mostly adds contention, not throughput, so the fleet together should not ask
 * for more.
 */
export function advise(input: AdviseInput): Advice {
  const instances = input.instances ?? 1;
  const rate = input.rate / instances;
  const inUse = rate * (input.holdMillis / 1000);
  const burst = Math.max(1, Math.ceil(inUse + 3 * Math.sqrt(inUse)));
  const spindles = input.spindles ?? 1;
  const serverLimit = input.cores === undefined ? undefined : input.cores * 2 + spindles;
  const perInstanceCap =
    serverLimit === undefined
      ? Number.POSITIVE_INFINITY
      : Math.max(1, Math.floor(serverLimit / instances));
  const max = Math.min(burst, perInstanceCap);
  const explanation = [
    `Each of ${instances} instance(s) serves ${fmt(rate)} leases/s, each held ${fmt(input.holdMillis)} ms on average.`,
    `Little's law: connections in use on average L = λ × W = ${fmt(rate)}/s × ${fmt(input.holdMillis / 1000)} s = ${fmt(inUse)}.`,
    `Arrivals are bursty: in use is roughly Poisson around L, so L + 3√L = ${fmt(inUse + 3 * Math.sqrt(inUse))} → ${burst} covers about 99.9% of moments.`,
  ];
  if (serverLimit !== undefined) {
    explanation.push(
      `Server: (cores × 2) + spindles = (${input.cores} × 2) + ${spindles} = ${serverLimit} active connections for the whole fleet; more mostly adds contention. Per instance: ⌊${serverLimit} / ${instances}⌋ = ${perInstanceCap}.`,
    );
    if (burst > perInstanceCap) {
      explanation.push(
        `Demand (${burst}) exceeds what the server can use well (${perInstanceCap}): callers will queue. Shorten the time connections are held, add read replicas, or accept the queue (set acquireTimeoutMillis and maxWaiting).`,
      );
    }
  }
  explanation.push(`Recommended: max = ${max} per instance (fleet total ${max * instances}).`);
  return { perInstance: { rate, inUse, burst }, serverLimit, max, explanation };
}

function fmt(n: number): string {
  // up to 3 decimals, without trailing zeros: 0.025 s stays 0.025, 11.708 stays 11.708
  return String(Number(n.toFixed(3)));
}
