export { defaultTimeBuckets } from "./pool-series.js";
export type { LifeguardMetrics, LifeguardMetricsOptions } from "./register.js";
export { metricNames, registerLifeguardMetrics } from "./register.js";
