import type { AnySuite } from "../framework/types.js";
import { churnSuite } from "./churn/index.js";
import { coreSuite } from "./core/index.js";
import { garbageSuite } from "./garbage/index.js";
import { idleMemorySuite } from "./memory/index.js";
import { metricsSuite } from "./metrics/index.js";
import { drizzleSuite, knexSuite, prismaSuite } from "./orms/index.js";
import { pgSleepSuite, pgSuite } from "./pg/index.js";
import { pgPipelineSleepSuite, pgPipelineSuite } from "./pipeline/index.js";
import { recoverySuite } from "./recovery/index.js";

/**
 * Every suite, in report order. To add one: write `src/suites/<name>/index.ts` exporting a
 * `Suite` (see src/framework/types.ts and bench/README.md) and list it here.
 */
export const suites: readonly AnySuite[] = [
  coreSuite,
  metricsSuite,
  pgSuite,
  pgSleepSuite,
  pgPipelineSuite,
  pgPipelineSleepSuite,
  churnSuite,
  drizzleSuite,
  knexSuite,
  prismaSuite,
  idleMemorySuite,
  garbageSuite,
  recoverySuite,
];
