import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describeFailure, runProcess } from "./run-process.js";

/**
 * Type-checks the examples' TypeScript (`esm/<id>.mts`, `cjs/<id>.cts`) against the installed
 * packages, the way a user's `tsc` would: Node's module resolution picks each package's shipped
 * `.d.ts` for the ES modules and `.d.cts` for CommonJS. Returns the failure, or undefined.
 */
export async function typecheckExamples(root: string, app: string): Promise<string | undefined> {
  const config = {
    compilerOptions: {
      target: "ES2022",
      lib: ["ES2023", "ESNext.Disposable"],
      module: "NodeNext",
      moduleResolution: "NodeNext",
      types: ["node"],
      strict: true,
      noEmit: true,
      allowJs: true, // the Drizzle example's ./schema.js
      skipLibCheck: true, // the examples are under test, not every dependency's declarations
    },
    include: ["esm/*.mts", "cjs/*.cts"],
  };
  await writeFile(join(app, "tsconfig.json"), `${JSON.stringify(config, null, 2)}\n`);
  const tsc = createRequire(join(root, "package.json")).resolve("typescript/bin/tsc");
  const result = await runProcess(process.execPath, [tsc, "-p", "tsconfig.json"], {
    cwd: app,
    timeoutMillis: 180_000,
  });
  return result.code === 0 ? undefined : describeFailure(result, "tsc on the README examples");
}
