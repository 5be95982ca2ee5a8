export { defaultTimeBuckets } from "@lifeguard/core/internal";
export type { LifeguardMetrics, LifeguardMetricsOptions } from "./register.js";
export { hostMetricNames, metricNames, registerLifeguardMetrics } from "./register.js";
