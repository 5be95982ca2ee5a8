import type { PoolSeries, TimeHistogram } from "@lifeguard/core/internal";
import type { OpenMetricsContentType, PrometheusContentType, Registry } from "prom-client";
import { Histogram } from "prom-client";

/** Which of a series' histograms a metric reports. @internal */
export type TimeSource = (series: PoolSeries) => TimeHistogram;

/** The exporter's label sets of a series. @internal */
export type SeriesLabelsOf<A> = (series: PoolSeries) => A;

type MetricObject = Awaited<ReturnType<Histogram<"pool_name">["get"]>>;
type MetricValue = MetricObject["values"][number];

/** @internal */
export interface TimeHistogramMetricConfig<A> {
  readonly name: string;
  readonly help: string;
  readonly registers: (Registry<PrometheusContentType> | Registry<OpenMetricsContentType>)[];
  /** Upper bounds in seconds. */
  readonly buckets: readonly number[];
  /** The series to report, read at scrape time. */
  readonly series: () => Iterable<PoolSeries>;
  readonly source: TimeSource;
  readonly labelsOf: SeriesLabelsOf<A>;
}

/**
 * A prom-client histogram whose observations are aggregated elsewhere, in place, by the channel
 * subscribers ({@link TimeHistogram}): prom-client's own `observe()` hashes the label set on
 * every call (~0.3 µs), more than a third of a whole acquire and release. At scrape time this
 * reports the aggregated buckets in prom-client's format; `observe()` is not used.
 * @internal
 */
export class TimeHistogramMetric<
  A extends { readonly pool: { readonly pool_name: string } },
> extends Histogram<"pool_name"> {
  readonly #bounds: readonly number[];
  readonly #series: () => Iterable<PoolSeries>;
  readonly #source: TimeSource;
  readonly #labelsOf: SeriesLabelsOf<A>;
  /** Each series' `le` label sets, built once. */
  readonly #bucketLabels = new WeakMap<PoolSeries, Record<string, string | number>[]>();

  constructor(config: TimeHistogramMetricConfig<A>) {
    super({
      name: config.name,
      help: config.help,
      labelNames: ["pool_name"],
      buckets: [...config.buckets],
      registers: config.registers,
    });
    this.#bounds = config.buckets;
    this.#series = config.series;
    this.#source = config.source;
    this.#labelsOf = config.labelsOf;
  }

  /** What the registry's text format reads. */
  async getForPromString(): Promise<MetricObject> {
    return this.#build();
  }

  /** What `registry.getMetricsAsJSON()` (and the cluster aggregator) reads. */
  override async get(): Promise<MetricObject> {
    return this.#build();
  }

  #build(): MetricObject {
    const name = (this as unknown as { name: string }).name;
    const values: MetricValue[] = [];
    for (const series of this.#series()) {
      const histogram = this.#source(series);
      const labels = this.#bucketLabelsOf(series);
      let cumulative = 0;
      for (let i = 0; i < labels.length; i++) {
        cumulative += histogram.counts[i] as number;
        values.push({
          labels: labels[i] as MetricValue["labels"],
          value: cumulative,
          metricName: `${name}_bucket`,
        });
      }
      const pool = this.#labelsOf(series).pool;
      values.push({
        labels: pool,
        value: histogram.sumMillis / 1000,
        metricName: `${name}_sum`,
      });
      values.push({
        labels: pool,
        value: histogram.count,
        metricName: `${name}_count`,
      });
    }
    return {
      name,
      help: (this as unknown as { help: string }).help,
      type: "histogram",
      values,
      aggregator: "sum",
    } as unknown as MetricObject;
  }

  #bucketLabelsOf(series: PoolSeries): Record<string, string | number>[] {
    let labels = this.#bucketLabels.get(series);
    if (labels === undefined) {
      const pool_name = this.#labelsOf(series).pool.pool_name;
      labels = [...this.#bounds.map((le) => ({ pool_name, le })), { pool_name, le: "+Inf" }];
      this.#bucketLabels.set(series, labels);
    }
    return labels;
  }
}
