/**
 * The process `profile:core` runs under `node --cpu-prof`: one core-suite contender (Lifeguard by
 * default), warmed up, then run for a while at each concurrency. Not meant to be run directly.
 */
import { readdirSync, writeFileSync } from "node:fs";
import { findSourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { formatSi } from "../framework/format.js";
import { coreSuite } from "../suites/core/index.js";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    contender: { type: "string", default: "lifeguard" },
    seconds: { type: "string", default: "4" },
    concurrency: { type: "string", default: "1,64" },
    "source-maps": { type: "string" },
  },
});
const contender = coreSuite.contenders.find((c) => c.id === values.contender);
if (contender === undefined) {
  throw new Error(
    `unknown contender "${values.contender}"; known: ${coreSuite.contenders.map((c) => c.id).join(", ")}`,
  );
}
const durationMillis = Number(values.seconds) * 1000;
for (const concurrency of values.concurrency.split(",").map(Number)) {
  await contender.run(
    { concurrency },
    { durationMillis: 500, quick: false, warmup: true, state: undefined },
  );
  const sample = await contender.run(
    { concurrency },
    { durationMillis, quick: false, warmup: false, state: undefined },
  );
  console.log(
    `${contender.id} at concurrency ${concurrency}: ${formatSi(sample["cyclesPerSecond"] ?? Number.NaN)} cycles/s, ${Math.round(sample["nsPerCycle"] ?? Number.NaN)} ns/cycle (under the profiler)`,
  );
}

// tsx compiles each module to one line, so the profile's positions mean nothing without the source
// maps (available with --enable-source-maps): save them for the summary.
if (values["source-maps"] !== undefined) {
  const repoDir = fileURLToPath(new URL("../../..", import.meta.url));
  const maps: Record<string, unknown> = {};
  for (const dir of ["packages/core/src", "bench/src"]) {
    const root = path.join(repoDir, dir);
    for (const file of readdirSync(root, { recursive: true, encoding: "utf8" })) {
      if (!file.endsWith(".ts")) continue;
      const url = pathToFileURL(path.join(root, file)).href;
      const map = findSourceMap(url);
      if (map !== undefined) maps[url] = map.payload;
    }
  }
  writeFileSync(values["source-maps"], JSON.stringify(maps));
}
