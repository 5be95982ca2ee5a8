import type { PoolSeries } from "@lifeguard/core/internal";
import { checkBuckets, defaultTimeBuckets, PoolSeriesTracker } from "@lifeguard/core/internal";
import type {
  BatchObservableCallback,
  Histogram,
  MeterProvider,
  Observable,
  ObservableCounter,
  ObservableGauge,
  ObservableUpDownCounter,
} from "@opentelemetry/api";
import { metrics, ValueType } from "@opentelemetry/api";
import { HostAttributeSets } from "./host-attribute-sets.js";
import type { SeriesAttributes } from "./semconv.js";
import { attributeCache, observedMetrics, SCOPE_NAME, timeMetrics } from "./semconv.js";

/** Options of {@link instrumentLifeguard}. */
export interface InstrumentLifeguardOptions {
  /** Where the instruments are created. Default: the global one, `metrics.getMeterProvider()`. */
  meterProvider?: MeterProvider;
  /**
   * Upper bounds, in seconds, advised for the wait, use and create time histograms (a View can
   * still override them). Default {@link defaultTimeBuckets}: 100 µs to 30 s.
   */
  buckets?: readonly number[];
}

/** What {@link instrumentLifeguard} returns. */
export interface LifeguardInstrumentation extends Disposable {
  /**
   * Stops reporting: unsubscribes from the pools' channels and removes the observable callbacks.
   * Idempotent. (Points already recorded in the histograms stay with the SDK.)
   */
  unsubscribe(): void;
}

/**
 * Reports Lifeguard's pools through the OpenTelemetry metrics API: the database connection-pool
 * metrics of the semantic conventions (`db.client.connection.*`, every point carrying
 * `db.client.connection.pool.name`) and Lifeguard's own (`lifeguard.*`), for every pool in the
 * process, including pools created later.
 *
 * Levels and counters are observed from each pool's `stats()` at collection time and cost nothing
 * in between. The three histograms are recorded on every acquire, release and connect, and the
 * OpenTelemetry JS SDK's `Histogram.record()` costs about 1 µs per call (it hashes the attribute
 * set each time), more than a whole Lifeguard acquire and release. For busy pools, use
 * {@link createLifeguardMetricProducer} instead: the same metrics, aggregated in place.
 *
 * ```ts
 * import { instrumentLifeguard } from "@lifeguard/otel";
 * const instrumentation = instrumentLifeguard({ meterProvider });
 * // later: instrumentation.unsubscribe();
 * ```
 */
export function instrumentLifeguard(
  options: InstrumentLifeguardOptions = {},
): LifeguardInstrumentation {
  const provider = options.meterProvider ?? metrics.getMeterProvider();
  const buckets = checkBuckets(options.buckets ?? defaultTimeBuckets);
  const meter = provider.getMeter(SCOPE_NAME);

  const observed: [
    ObservableCounter | ObservableUpDownCounter | ObservableGauge,
    (typeof observedMetrics)[number],
  ][] = observedMetrics.map((spec) => {
    const instrumentOptions = {
      description: spec.description,
      unit: spec.unit,
      valueType: spec.valueType === "double" ? ValueType.DOUBLE : ValueType.INT,
    };
    return [
      spec.kind === "counter"
        ? meter.createObservableCounter(spec.name, instrumentOptions)
        : spec.kind === "gauge"
          ? meter.createObservableGauge(spec.name, instrumentOptions)
          : meter.createObservableUpDownCounter(spec.name, instrumentOptions),
      spec,
    ];
  });
  const histogram = (name: string): Histogram => {
    const spec = timeMetrics.find((m) => m.name === name) as (typeof timeMetrics)[number];
    return meter.createHistogram(spec.name, {
      description: spec.description,
      unit: spec.unit,
      valueType: ValueType.DOUBLE,
      advice: { explicitBucketBoundaries: [...buckets] },
    });
  };
  const createTime = histogram("db.client.connection.create_time");
  const waitTime = histogram("db.client.connection.wait_time");
  const useTime = histogram("db.client.connection.use_time");

  const attributesOf = attributeCache();
  // the series' own slot holds its attributes: this tracker is private to this instrumentation
  const poolAttributes = (series: PoolSeries): SeriesAttributes["pool"] => {
    if (series.sinkData === undefined) series.sinkData = attributesOf(series.label).pool;
    return series.sinkData as SeriesAttributes["pool"];
  };
  const tracker = new PoolSeriesTracker(buckets, {
    wait: (series, millis) => waitTime.record(millis / 1000, poolAttributes(series)),
    use: (series, millis) => useTime.record(millis / 1000, poolAttributes(series)),
    create: (series, millis) => createTime.record(millis / 1000, poolAttributes(series)),
  });

  const hostSets = new HostAttributeSets();
  const callback: BatchObservableCallback = (result) => {
    for (const snapshot of tracker.collect()) {
      const attributes = attributesOf(snapshot.series.label);
      for (const [instrument, spec] of observed) {
        if (spec.attributesChange === true) {
          spec.observe(snapshot, attributes, (set, value) => {
            hostSets.seen(instrument, set);
            result.observe(instrument, value, set);
          });
        } else {
          spec.observe(snapshot, attributes, (set, value) =>
            result.observe(instrument, value, set),
          );
        }
      }
    }
    hostSets.endCollection((instrument, set) => result.observe(instrument, 0, set));
  };
  const observables: Observable[] = observed.map(([instrument]) => instrument);
  meter.addBatchObservableCallback(callback, observables);
  tracker.retain();

  let active = true;
  const unsubscribe = (): void => {
    if (!active) return;
    active = false;
    tracker.release();
    meter.removeBatchObservableCallback(callback, observables);
  };
  return { unsubscribe, [Symbol.dispose]: unsubscribe };
}
