import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.shared.ts";

// two entries: the public API and the internal subpath for Lifeguard's own packages; members
// marked @internal are left out of the published declarations
const build = packageBuild(["src/index.ts", "src/internal.ts"]);
export default defineConfig({
  ...build,
  dts: { compilerOptions: { ignoreDeprecations: "6.0", stripInternal: true } },
});
