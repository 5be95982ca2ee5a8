import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.shared.ts";

// two entries: the public API and the internal subpath for Lifeguard's own packages
export default defineConfig(packageBuild(["src/index.ts", "src/internal.ts"]));
