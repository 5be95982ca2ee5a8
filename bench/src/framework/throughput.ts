/**
 * One closed-loop worker: repeats its operation until `stopAt` (a `performance.now()` time) and
 * returns how many operations it completed. Suites write the loop themselves, one function per
 * contender, so every call site stays monomorphic and no wrapper promise is added per operation;
 * they check the clock every {@link CLOCK_CHECK_EVERY} operations.
 */
export type Worker = (stopAt: number) => Promise<number>;

/** Operations between two clock reads inside a worker's loop. */
export const CLOCK_CHECK_EVERY = 16;

export interface Throughput {
  readonly operations: number;
  readonly elapsedMillis: number;
  readonly perSecond: number;
  /** Wall time per completed operation, in nanoseconds (1e9 / perSecond). */
  readonly nsPerOperation: number;
}

/**
 * Runs `concurrency` workers side by side for `durationMillis`. The clock is read in the loops,
 * not by a timer: a loop of resolved promises never yields to the timer phase of the event loop.
 */
export async function measureThroughput(
  concurrency: number,
  durationMillis: number,
  worker: Worker,
): Promise<Throughput> {
  const workers: Promise<number>[] = [];
  const start = performance.now();
  const stopAt = start + durationMillis;
  for (let i = 0; i < concurrency; i++) workers.push(worker(stopAt));
  const counts = await Promise.all(workers);
  const elapsedMillis = performance.now() - start;
  let operations = 0;
  for (const count of counts) operations += count;
  const perSecond = (operations * 1000) / elapsedMillis;
  return { operations, elapsedMillis, perSecond, nsPerOperation: 1e9 / perSecond };
}
