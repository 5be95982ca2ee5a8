export { defaultTimeBuckets } from "@lifeguard/core/internal";
export type { LifeguardMetrics, LifeguardMetricsOptions } from "./register.js";
export { metricNames, registerLifeguardMetrics } from "./register.js";
