export { defaultTimeBuckets } from "@lifeguard/core";
export type { LifeguardMetrics, LifeguardMetricsOptions } from "./register.js";
export { metricNames, registerLifeguardMetrics } from "./register.js";
