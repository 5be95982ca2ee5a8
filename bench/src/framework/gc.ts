import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * A full collection, run before every sample so one sample's garbage is not the next one's pause.
 * Uses `gc` from `--expose-gc` if present, else exposes it at run time.
 */
export const collectGarbage: () => void = (() => {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === "function") return existing;
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as unknown;
    if (typeof gc === "function") return gc as () => void;
  } catch {
    // not available: samples run without a forced collection
  }
  return () => {};
})();
