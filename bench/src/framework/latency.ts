/** Sub-buckets per power of two: each bucket spans 2^(1/64) ≈ 1.1%. */
const PER_OCTAVE = 64;
/** Octaves above 1 µs: up to 2^25 µs (33 s); slower operations land in the last bucket. */
const OCTAVES = 25;
const BUCKETS = 1 + OCTAVES * PER_OCTAVE;

/**
 * Operation latencies in log-spaced buckets (≈ 1.1% wide), so recording costs one `Math.log2` and
 * one array increment, allocates nothing and needs fixed memory however many operations a sample
 * runs. Percentiles are the bucket's geometric middle, so within ±0.6% of the exact value.
 */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;

  /** One operation that took `millis`. */
  record(millis: number): void {
    const micros = millis * 1000;
    let bucket = 0;
    if (micros >= 1) {
      bucket = 1 + Math.floor(Math.log2(micros) * PER_OCTAVE);
      if (bucket >= BUCKETS) bucket = BUCKETS - 1;
    }
    this.#counts[bucket] = (this.#counts[bucket] as number) + 1;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  /** The latency, in milliseconds, that `fraction` (0.5, 0.99) of operations did not exceed. */
  percentile(fraction: number): number {
    if (this.#count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(fraction * this.#count));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.#counts[bucket] as number;
      if (seen >= rank) {
        if (bucket === 0) return 0.0005;
        return 2 ** ((bucket - 1 + 0.5) / PER_OCTAVE) / 1000;
      }
    }
    return Number.NaN;
  }
}
