import type { Pool } from "@lifeguard/core";
import { createLifeguardMetricProducer, instrumentLifeguard } from "@lifeguard/otel";
import { registerLifeguardMetrics } from "@lifeguard/prometheus";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { Registry } from "prom-client";
import { CLOCK_CHECK_EVERY, measureThroughput } from "../../framework/throughput.js";
import type { Contender, RunContext, Sample } from "../../framework/types.js";
import { subscribeMetrics } from "../common/subscriber.js";
import { withLifeguardStubPool } from "../core/pools.js";
import type { StubConnection } from "../core/stubs.js";

export { POOL_SIZE } from "../core/pools.js";

export interface MetricsParams {
  readonly concurrency: number;
}

type MetricsContender = Contender<MetricsParams>;

/** What a contender attaches once in its process, before its first sample. */
type Attach = () => void;

/** A reader that only collects when asked (never, here): the SDK pipeline without an exporter. */
class IdleReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Each contender's own copy of the loop, so the call site sees one pool shape only. */
async function worker(pool: Pool<StubConnection>, stopAt: number): Promise<number> {
  let cycles = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const lease = await pool.acquire();
      lease.release();
    }
    cycles += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return cycles;
}

async function measure(concurrency: number, context: RunContext<unknown>): Promise<Sample> {
  return withLifeguardStubPool(async (pool) => {
    const cpuBefore = process.cpuUsage();
    const result = await measureThroughput(concurrency, context.durationMillis, (stopAt) =>
      worker(pool, stopAt),
    );
    const cpu = process.cpuUsage(cpuBefore);
    return {
      cyclesPerSecond: result.perSecond,
      nsPerCycle: result.nsPerOperation,
      // CPU time is what the exporters cost; on a shared machine it is also steadier than wall time
      cpuNsPerCycle: ((cpu.user + cpu.system) * 1000) / result.operations,
    };
  });
}

function contender(id: string, label: string, note: string, attach: Attach): MetricsContender {
  let attached = false;
  return {
    id,
    label,
    version: "workspace",
    note,
    async run({ concurrency }, context) {
      // attached once per process and left attached, as an application's metrics would be
      if (!attached) {
        attach();
        attached = true;
      }
      return measure(concurrency, context);
    },
  };
}

export const bare = contender(
  "bare",
  "no subscriber",
  "`createPool({ connector, max: 10, leakDetectionThresholdMillis: 0 })` with nobody on any channel: the core builds no event payloads at all.",
  () => {},
);

export const channels = contender(
  "channels",
  "core cycle (channels on)",
  "The core suite's Lifeguard: the same pool plus a trivial `diagnostics_channel` subscriber on `lifeguard:connection:acquire` and `:release` (the core then builds and publishes a payload per acquire and per release).",
  subscribeMetrics,
);

export const prometheus = contender(
  "prometheus",
  "@lifeguard/prometheus",
  "`registerLifeguardMetrics({ register: new Registry() })` (prom-client 15.1.3); never scraped during the window.",
  () => {
    registerLifeguardMetrics({ register: new Registry() });
  },
);

export const otelProducer = contender(
  "otel-producer",
  "@lifeguard/otel (MetricProducer)",
  "`createLifeguardMetricProducer()` (histograms aggregated in place), registered on an SDK 2.12.1 `MetricReader`.",
  () => {
    const producer = createLifeguardMetricProducer();
    new MeterProvider({ readers: [new IdleReader({ metricProducers: [producer] })] });
  },
);

export const both = contender(
  "both",
  "both exporters",
  "`registerLifeguardMetrics()` and `createLifeguardMetricProducer()` together: they share one subscription per channel.",
  () => {
    registerLifeguardMetrics({ register: new Registry() });
    const producer = createLifeguardMetricProducer();
    new MeterProvider({ readers: [new IdleReader({ metricProducers: [producer] })] });
  },
);

export const otelMeter = contender(
  "otel-meter",
  "@lifeguard/otel (instrumentLifeguard)",
  "`instrumentLifeguard({ meterProvider })` on an SDK 2.12.1 `MeterProvider`: each acquire and release calls the SDK's `Histogram.record()` (about 1 µs each: it hashes the attribute set every time). For reference: the API path, not the one the target is about.",
  () => {
    instrumentLifeguard({ meterProvider: new MeterProvider({ readers: [new IdleReader()] }) });
  },
);
