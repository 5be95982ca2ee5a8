import type { Options } from "tsup";

/** The one build every package uses: ESM + CJS + declarations for Node 20. */
export function packageBuild(entry: string[] = ["src/index.ts"]): Options {
  return {
    entry,
    format: ["esm", "cjs"],
    // tsup 8.5 passes `baseUrl` to TS 6, which warns it is deprecated (the dts option below silences it)
    dts: { compilerOptions: { ignoreDeprecations: "6.0" } },
    sourcemap: true,
    clean: true,
    target: "node20",
    // import.meta.url in the CommonJS build (the embedded server and the CLI read files beside them)
    shims: true,
  };
}
