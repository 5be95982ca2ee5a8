/**
 * The process `profile:core` (or `profile`) runs under `node --cpu-prof`: one contender of one
 * suite (the core suite's Lifeguard by default), warmed up, then run for a while in each case. Not
 * meant to be run directly.
 */
import { readdirSync, writeFileSync } from "node:fs";
import { findSourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { formatMetric } from "../framework/format.js";
import { primaryMetric } from "../framework/stats.js";
import { suites } from "../suites/index.js";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    suite: { type: "string", default: "core" },
    contender: { type: "string", default: "lifeguard" },
    seconds: { type: "string", default: "4" },
    /** Case ids (comma-separated); default every case of the suite. */
    cases: { type: "string" },
    /** The cases whose `concurrency` param is one of these (the core suite's old flag). */
    concurrency: { type: "string" },
    "source-maps": { type: "string" },
  },
});
const suite = suites.find((s) => s.name === values.suite);
if (suite === undefined) {
  throw new Error(
    `unknown suite "${values.suite}"; known: ${suites.map((s) => s.name).join(", ")}`,
  );
}
const contender = suite.contenders.find((c) => c.id === values.contender);
if (contender === undefined) {
  throw new Error(
    `unknown contender "${values.contender}"; known: ${suite.contenders.map((c) => c.id).join(", ")}`,
  );
}
let cases = suite.cases;
if (values.cases !== undefined) {
  const ids = values.cases.split(",");
  cases = cases.filter((c) => ids.includes(c.id));
} else if (values.concurrency !== undefined) {
  const wanted = values.concurrency.split(",").map(Number);
  cases = cases.filter((c) =>
    wanted.includes((c.params as { concurrency?: number }).concurrency ?? Number.NaN),
  );
}
if (cases.length === 0) throw new Error("no case selected");

const setup = (await suite.setup?.({ quick: false })) ?? { state: undefined };
const metric = primaryMetric(suite);
const durationMillis = Number(values.seconds) * 1000;
try {
  for (const c of cases) {
    await contender.run(c.params, {
      durationMillis: 500,
      quick: false,
      warmup: true,
      state: setup.state,
    });
    const sample = await contender.run(c.params, {
      durationMillis,
      quick: false,
      warmup: false,
      state: setup.state,
    });
    console.log(
      `${suite.name}/${contender.id}, ${c.label}: ${formatMetric(metric, sample[metric.key] ?? Number.NaN)} ${metric.label} (under the profiler)`,
    );
  }
} finally {
  // pools resolve `end()` before their sockets are closed (pg-pool does): let them close before
  // the database goes away, or its "terminating connection" reaches them
  await new Promise((resolve) => setTimeout(resolve, 500));
  await setup.teardown?.();
}

// tsx compiles each module to one line, so the profile's positions mean nothing without the source
// maps (available with --enable-source-maps): save them for the summary.
if (values["source-maps"] !== undefined) {
  const repoDir = fileURLToPath(new URL("../../..", import.meta.url));
  const maps: Record<string, unknown> = {};
  for (const dir of ["packages/core/src", "packages/pg/src", "bench/src"]) {
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
