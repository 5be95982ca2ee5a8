import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { forms } from "./app.js";
import {
  type Example,
  extractExamples,
  SMOKE_FENCE,
  toCommonJs,
  toEsm,
  typeScriptSources,
} from "./examples.js";
import type { PublishablePackage } from "./packages.js";
import { describeFailure, type ProcessResult, runProcess } from "./run-process.js";

/**
 * What an example's run must show besides exiting with code 0 by itself, keyed by example id
 * (`<package folder>-<n>`, the n-th `ts smoke` block of its README). Edit this when an example's
 * output changes.
 */
interface Expectation {
  /** Its standard output matches. */
  readonly stdout?: RegExp;
  /** A server example: it never exits; it passes when this URL answers with a matching body. */
  readonly serve?: { readonly url: string; readonly body: RegExp };
}

const expectations: Record<string, Expectation> = {
  "cli-1": { stdout: /^\d+\n$/ },
  "knex-1": { stdout: /max: 20/ },
  "otel-1": { stdout: /db\.client\.connection\.use_time/ },
  "prisma-1": { stdout: /max: 10/ },
  "prometheus-1": {
    serve: {
      url: "http://127.0.0.1:9464/",
      body: /^db_client_connection_max\{pool_name="orders"\} 10$/m,
    },
  },
};

/** Each package's examples: its README's `ts smoke` / `js smoke` blocks. Every package must have one. */
export function collectExamples(root: string, packages: readonly PublishablePackage[]): Example[] {
  const examples: Example[] = [];
  const missing: string[] = [];
  for (const pkg of packages) {
    const readme = join(pkg.path, "README.md");
    const found = existsSync(readme)
      ? extractExamples(readme, relative(root, readme), pkg.dir)
      : [];
    if (found.length === 0) missing.push(relative(root, readme));
    examples.push(...found);
  }
  if (missing.length > 0) {
    throw new Error(
      `No runnable example (a \`${SMOKE_FENCE}\` block) in: ${missing.join(", ")}. Mark the README's example, or make one.`,
    );
  }
  return examples;
}

/** Writes each example as `esm/<id>.mjs` and `cjs/<id>.cjs`, and its TypeScript beside them. */
export async function writeExamples(app: string, examples: readonly Example[]): Promise<void> {
  for (const example of examples) {
    await writeFile(join(app, "esm", `${example.id}.mjs`), toEsm(example));
    await writeFile(join(app, "cjs", `${example.id}.cjs`), toCommonJs(example));
    const { mts, cts } = typeScriptSources(example);
    await writeFile(join(app, "esm", `${example.id}.mts`), mts);
    await writeFile(join(app, "cjs", `${example.id}.cts`), cts);
  }
}

/** Runs every example in both forms; returns the failures, described. */
export async function runExamples(
  app: string,
  examples: readonly Example[],
  env: NodeJS.ProcessEnv,
): Promise<string[]> {
  const failures: string[] = [];
  for (const example of examples) {
    for (const form of forms) {
      const file = `${example.id}.${form.extension}`;
      const expectation = expectations[example.id] ?? {};
      const started = Date.now();
      const result = await runExample(join(app, form.folder), file, expectation, env);
      const problem = judge(result, expectation, `${form.folder}/${file} (${example.origin})`);
      const took = `${((Date.now() - started) / 1000).toFixed(1)} s`;
      if (problem === undefined) console.log(`ok - ${example.origin} as ${form.folder} (${took})`);
      else {
        console.log(`not ok - ${example.origin} as ${form.folder} (${took})`);
        failures.push(problem);
      }
    }
  }
  return failures;
}

async function runExample(
  cwd: string,
  file: string,
  expectation: Expectation,
  env: NodeJS.ProcessEnv,
): Promise<ProcessResult & { stoppedByUntil: boolean }> {
  const serve = expectation.serve;
  return runProcess(process.execPath, [file], {
    cwd,
    env,
    timeoutMillis: 60_000,
    ...(serve === undefined
      ? {}
      : {
          until: async () => {
            const response = await fetch(serve.url);
            return serve.body.test(await response.text());
          },
        }),
  });
}

function judge(
  result: ProcessResult & { stoppedByUntil: boolean },
  expectation: Expectation,
  what: string,
): string | undefined {
  if (expectation.serve !== undefined) {
    if (result.stoppedByUntil) return undefined;
    return `${describeFailure(result, what)}\n  (expected ${expectation.serve.url} to answer with ${expectation.serve.body})`;
  }
  if (result.code !== 0) return describeFailure(result, what);
  if (expectation.stdout !== undefined && !expectation.stdout.test(result.stdout)) {
    return `${describeFailure(result, what)}\n  (its output does not match ${expectation.stdout})`;
  }
  return undefined;
}
