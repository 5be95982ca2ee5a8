export { defaultTimeBuckets } from "@lifeguard/core/internal";
export type { InstrumentLifeguardOptions, LifeguardInstrumentation } from "./instrument.js";
export { instrumentLifeguard } from "./instrument.js";
export type { LifeguardMetricProducer, LifeguardMetricProducerOptions } from "./metric-producer.js";
export { createLifeguardMetricProducer } from "./metric-producer.js";
export {
  ATTR_ACQUIRE_FAILURE_REASON,
  ATTR_EVICTION_REASON,
  ATTR_POOL_NAME,
  ATTR_PREPING_RESULT,
  ATTR_STATE,
  metricNames,
  SCOPE_NAME,
} from "./semconv.js";
