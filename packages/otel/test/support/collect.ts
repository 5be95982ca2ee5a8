import type { Attributes } from "@opentelemetry/api";
import type {
  DataPoint,
  Histogram,
  HistogramMetricData,
  MetricData,
  SumMetricData,
} from "@opentelemetry/sdk-metrics";
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import type { LifeguardInstrumentation, LifeguardMetricProducer } from "../../src/index.js";
import { createLifeguardMetricProducer, instrumentLifeguard } from "../../src/index.js";

export type Mode = "instrumentLifeguard" | "createLifeguardMetricProducer";

/** An SDK pipeline with the in-memory exporter, Lifeguard's metrics attached one way or the other. */
export interface Pipeline {
  /** Collects now and returns the metrics of the `@lifeguard/otel` scope. */
  collect(): Promise<MetricData[]>;
  readonly handle: LifeguardInstrumentation | LifeguardMetricProducer;
  shutdown(): Promise<void>;
}

export function pipeline(mode: Mode): Pipeline {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const producer =
    mode === "createLifeguardMetricProducer" ? createLifeguardMetricProducer() : undefined;
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: 3_600_000,
    ...(producer === undefined ? {} : { metricProducers: [producer] }),
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const handle = producer ?? instrumentLifeguard({ meterProvider });
  return {
    handle,
    async collect() {
      exporter.reset();
      await reader.forceFlush();
      const exported = exporter.getMetrics();
      return exported
        .flatMap((resourceMetrics) => resourceMetrics.scopeMetrics)
        .filter((scope) => scope.scope.name === "@lifeguard/otel")
        .flatMap((scope) => scope.metrics);
    },
    async shutdown() {
      handle.unsubscribe();
      await meterProvider.shutdown();
    },
  };
}

export function metric(metrics: readonly MetricData[], name: string): MetricData {
  const found = metrics.filter((m) => m.descriptor.name === name);
  if (found.length !== 1) throw new Error(`${found.length} metrics named ${name}`);
  return found[0] as MetricData;
}

function sameAttributes(a: Attributes, b: Attributes): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** The value of the sum point with exactly these attributes. */
export function sumPoint(
  metrics: readonly MetricData[],
  name: string,
  attributes: Attributes,
): number {
  const m = metric(metrics, name);
  if (m.dataPointType !== DataPointType.SUM) throw new Error(`${name} is not a sum`);
  const points = (m as SumMetricData).dataPoints.filter((p) =>
    sameAttributes(p.attributes, attributes),
  );
  if (points.length !== 1) {
    throw new Error(`${points.length} points of ${name} with ${JSON.stringify(attributes)}`);
  }
  return (points[0] as DataPoint<number>).value;
}

/** The histogram point with exactly these attributes. */
export function histogramPoint(
  metrics: readonly MetricData[],
  name: string,
  attributes: Attributes,
): Histogram {
  const m = metric(metrics, name);
  if (m.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${name} is not a histogram`);
  const points = (m as HistogramMetricData).dataPoints.filter((p) =>
    sameAttributes(p.attributes, attributes),
  );
  if (points.length !== 1) {
    throw new Error(`${points.length} points of ${name} with ${JSON.stringify(attributes)}`);
  }
  return (points[0] as DataPoint<Histogram>).value;
}

/** Attribute sets of every point of a metric, as sorted `key=value` strings. */
export function attributeSets(m: MetricData): string[] {
  return (m.dataPoints as DataPoint<unknown>[])
    .map((p) =>
      Object.entries(p.attributes)
        .map(([k, v]) => `${k}=${String(v)}`)
        .sort()
        .join(","),
    )
    .sort();
}
