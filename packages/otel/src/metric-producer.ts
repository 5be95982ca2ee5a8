import type { SeriesSnapshot } from "@lifeguard/core/internal";
import {
  checkBuckets,
  defaultTimeBuckets,
  sharedPoolSeriesTracker,
} from "@lifeguard/core/internal";
import type { Attributes, HrTime } from "@opentelemetry/api";
import { ValueType } from "@opentelemetry/api";
import type {
  AggregationTemporality,
  CollectionResult,
  DataPoint,
  DataPointType,
  Histogram,
  MetricData,
  MetricProducer,
  ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import type { SeriesAttributes } from "./semconv.js";
import { attributeCache, observedMetrics, SCOPE_NAME, timeMetrics } from "./semconv.js";

// The SDK's enums, by value: a type-only dependency keeps @opentelemetry/sdk-metrics optional for
// users of instrumentLifeguard(). These values are the SDK's data model and do not change.
const HISTOGRAM = 0 as DataPointType.HISTOGRAM;
const GAUGE = 2 as DataPointType.GAUGE;
const SUM = 3 as DataPointType.SUM;
const CUMULATIVE = 1 as AggregationTemporality.CUMULATIVE;

/**
 * Readers use the SDK's own Resource and ignore a producer's (see `MetricReaderOptions`); this one
 * is an empty stand-in for callers that read it anyway.
 */
const noResource: ResourceMetrics["resource"] = {
  attributes: {},
  merge: (other) => other ?? noResource,
  getRawAttributes: () => [],
};

/** Options of {@link createLifeguardMetricProducer}. */
export interface LifeguardMetricProducerOptions {
  /**
   * Upper bounds, in seconds, of the wait, use and create time histograms.
   * Default {@link defaultTimeBuckets}: 100 µs to 30 s.
   */
  buckets?: readonly number[];
}

/** A `MetricProducer` for an OpenTelemetry SDK `MetricReader`, reporting Lifeguard's pools. */
export interface LifeguardMetricProducer extends MetricProducer, Disposable {
  /** Stops following the pools (unsubscribes from their channels); `collect()` reports nothing from then on. Idempotent. */
  unsubscribe(): void;
}

/**
 * The same metrics as {@link instrumentLifeguard} (names, kinds, units, attributes), aggregated
 * in place and handed to an SDK `MetricReader` as a `MetricProducer`, for busy pools: each
 * acquire, release or connect adds to a histogram in a few nanoseconds instead of a ~1 µs
 * `Histogram.record()`. Points are cumulative (start: when the producer first saw the pool name).
 * It bypasses the MeterProvider, so Views do not apply to these metrics.
 *
 * ```ts
 * import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
 * import { createLifeguardMetricProducer } from "@lifeguard/otel";
 *
 * const lifeguard = createLifeguardMetricProducer();
 * const reader = new PeriodicExportingMetricReader({ exporter, metricProducers: [lifeguard] });
 * const meterProvider = new MeterProvider({ readers: [reader] });
 * ```
 */
export function createLifeguardMetricProducer(
  options: LifeguardMetricProducerOptions = {},
): LifeguardMetricProducer {
  const buckets = checkBuckets(options.buckets ?? defaultTimeBuckets);
  const boundaries = [...buckets];
  const tracker = sharedPoolSeriesTracker(buckets);
  const attributesOf = attributeCache();
  tracker.retain();
  let active = true;
  const unsubscribe = (): void => {
    if (!active) return;
    active = false;
    tracker.release();
  };

  return {
    collect(): Promise<CollectionResult> {
      const endTime = toHrTime(Date.now());
      const snapshots = active ? tracker.collect() : [];
      const metrics: MetricData[] = [];
      for (const spec of observedMetrics) {
        const dataPoints: DataPoint<number>[] = [];
        for (const snapshot of snapshots) {
          const startTime = toHrTime(snapshot.series.startedAt);
          spec.observe(snapshot, attributesOf(snapshot.series.label), (attributes, value) =>
            dataPoints.push({ startTime, endTime, attributes, value }),
          );
        }
        if (dataPoints.length === 0) continue;
        const descriptor = {
          name: spec.name,
          description: spec.description,
          unit: spec.unit,
          valueType: spec.valueType === "double" ? ValueType.DOUBLE : ValueType.INT,
        };
        if (spec.kind === "gauge") {
          metrics.push({
            descriptor,
            aggregationTemporality: CUMULATIVE,
            dataPointType: GAUGE,
            dataPoints,
          });
          continue;
        }
        metrics.push({
          descriptor,
          aggregationTemporality: CUMULATIVE,
          dataPointType: SUM,
          isMonotonic: spec.kind === "counter",
          dataPoints,
        });
      }
      for (const spec of timeMetrics) {
        const dataPoints = snapshots.map((snapshot) =>
          histogramPoint(
            snapshot,
            attributesOf(snapshot.series.label),
            spec.histogram,
            boundaries,
            endTime,
          ),
        );
        if (dataPoints.length === 0) continue;
        metrics.push({
          descriptor: {
            name: spec.name,
            description: spec.description,
            unit: spec.unit,
            valueType: ValueType.DOUBLE,
          },
          aggregationTemporality: CUMULATIVE,
          dataPointType: HISTOGRAM,
          dataPoints,
        });
      }
      return Promise.resolve({
        resourceMetrics: {
          resource: noResource,
          scopeMetrics: metrics.length === 0 ? [] : [{ scope: { name: SCOPE_NAME }, metrics }],
        },
        errors: [],
      });
    },
    unsubscribe,
    [Symbol.dispose]: unsubscribe,
  };
}

function histogramPoint(
  { series }: SeriesSnapshot,
  seriesAttributes: SeriesAttributes,
  which: "waitTime" | "useTime" | "createTime",
  boundaries: number[],
  endTime: HrTime,
): DataPoint<Histogram> {
  const histogram = series[which];
  const value: Histogram = {
    buckets: { boundaries, counts: Array.from(histogram.counts) },
    sum: histogram.sumMillis / 1000,
    count: histogram.count,
  };
  if (histogram.count > 0) {
    value.min = histogram.minMillis / 1000;
    value.max = histogram.maxMillis / 1000;
  }
  const attributes: Attributes = seriesAttributes.pool;
  return { startTime: toHrTime(series.startedAt), endTime, attributes, value };
}

function toHrTime(epochMillis: number): HrTime {
  const seconds = Math.floor(epochMillis / 1000);
  return [seconds, Math.round((epochMillis - seconds * 1000) * 1e6)];
}
