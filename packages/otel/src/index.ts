export { defaultTimeBuckets } from "@lifeguard/core/internal";
export {
  ATTR_HOST_ROLE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from "./host-semconv.js";
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
  hostMetricNames,
  metricNames,
  SCOPE_NAME,
} from "./semconv.js";
