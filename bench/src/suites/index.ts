import type { AnySuite } from "../framework/types.js";
import { coreSuite } from "./core/index.js";

/**
 * Every suite, in report order. To add one: write `src/suites/<name>/index.ts` exporting a
 * `Suite` (see src/framework/types.ts and bench/README.md) and list it here.
 */
export const suites: readonly AnySuite[] = [coreSuite];
