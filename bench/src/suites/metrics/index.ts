import type { Suite } from "../../framework/types.js";
import type { MetricsParams } from "./contenders.js";
import {
  bare,
  both,
  channels,
  otelMeter,
  otelProducer,
  POOL_SIZE,
  prometheus,
} from "./contenders.js";

/** Issue 7: what attaching the metrics exporters costs the core's acquire+release cycle. */
export const metricsSuite: Suite<MetricsParams> = {
  name: "metrics",
  title: "Metrics exporters: cost per acquire + release",
  description: `
The core suite's cycle (a pool of ${POOL_SIZE} over the stub connection, _N_ loops doing
\`acquire → release\` back to back) with and without the exporters attached. Each contender runs
in a process of its own and attaches its exporters once, before its first sample; nothing scrapes
or collects during a window, so this is the cost on the pool's hot path: the channel subscribers
that add each wait and use time to a histogram in place.

Two baselines: **no subscriber** (nobody on any channel, so the core builds no event payloads) and
**core cycle (channels on)**, the core suite's own configuration, with a trivial subscriber on the
acquire and release channels. The target is on the second: the exporters' own work must cost less
than 10 % of the cycle. The gap between the two baselines is the core's publishing (a payload
object and a \`publish()\` per acquire and per release), paid by any subscriber. **CPU ns/cycle**
is the process's user + system time per cycle, steadier than wall time on a shared machine.`,
  cases: [
    { id: "c1", label: "concurrency 1", params: { concurrency: 1 } },
    { id: "c64", label: "concurrency 64", params: { concurrency: 64 } },
  ],
  contenders: [both, bare, channels, prometheus, otelProducer, otelMeter],
  metrics: [
    { key: "cyclesPerSecond", label: "cycles/s", better: "higher", format: "si" },
    { key: "nsPerCycle", label: "ns/cycle", better: "lower", format: "fixed", unit: " ns" },
    { key: "cpuNsPerCycle", label: "CPU ns/cycle", better: "lower", format: "fixed", unit: " ns" },
  ],
  subject: "both",
  targets: [
    { versus: "channels", min: 1 / 1.1, label: "≥ 0.91× (< 10 %)" },
    { versus: "channels", metric: "cpuNsPerCycle", max: 1.1, label: "≤ 1.10× (< 10 %)" },
  ],
  extraRatios: [
    { subject: "prometheus", versus: "channels" },
    { subject: "otel-producer", versus: "channels" },
    { subject: "both", versus: "bare" },
    { subject: "channels", versus: "bare" },
    { subject: "both", versus: "bare", metric: "cpuNsPerCycle" },
  ],
  chart: {
    title: "Metrics exporters: acquire+release cycles per second (pool of 10, stub connection)",
  },
};
