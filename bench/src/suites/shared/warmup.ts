import type { Contender } from "../../framework/types.js";

/** Pools each contender builds, exercises and closes while warming up. */
export const CONSTRUCTION_WARMUP_POOLS = 8;

/**
 * Every sample uses a fresh pool, so warming up must include building pools, not only running one:
 * V8 finishes in-object slack tracking of a class after its 7th instance, and when that happens in
 * the middle of the measured rounds it throws away code optimized earlier (we measured Lifeguard
 * settling ~45% slower for the rest of the process when its 7th pool was built mid-run, and no
 * slowdown when 7 pools had been built first). So during the warm-up sample each contender builds,
 * exercises (for `millis`) and closes 8 pools before the (discarded) warm-up sample itself. Same for
 * every contender.
 */
export function withConstructionWarmup<P, S>(
  contender: Contender<P, S>,
  millis = 20,
): Contender<P, S> {
  return {
    ...contender,
    async run(params, context) {
      if (context.warmup) {
        for (let i = 0; i < CONSTRUCTION_WARMUP_POOLS; i++) {
          await contender.run(params, { ...context, durationMillis: millis });
        }
      }
      return contender.run(params, context);
    },
  };
}
