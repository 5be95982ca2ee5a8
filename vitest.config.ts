import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";

const sourceCondition = "@lifeguard/source";
const packages = readdirSync(new URL("./packages", import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => ({ name: d.name, root: `./packages/${d.name}` }));
const projects = [...packages, { name: "test-fixtures", root: "./test-fixtures" }];

// `pnpm test:soak` (vitest --mode soak) runs only the soak tests (test/soak/); `pnpm test` never does
export default defineConfig(({ mode }) => ({
  test: {
    // root-level globalSetup runs once for the whole run (an absolute path: a relative one would resolve against each project root and run once per project)
    globalSetup: [fileURLToPath(new URL("./test-fixtures/src/global-setup.ts", import.meta.url))],
    projects: projects.map(({ name, root }) => ({
      // tests run in Vite's SSR environment: ssr.resolve.conditions is the one that counts
      ssr: { resolve: { conditions: [sourceCondition] } },
      test: {
        name,
        root: fileURLToPath(new URL(root, import.meta.url)),
        include: mode === "soak" ? ["test/soak/**/*.test.ts"] : ["test/**/*.test.ts"],
        exclude:
          mode === "soak" ? configDefaults.exclude : [...configDefaults.exclude, "**/soak/**"],
        testTimeout: 30_000,
        hookTimeout: 60_000,
      },
    })),
  },
}));
