import { defineConfig } from "tsup";
import { packageBuild } from "../../tsup.shared.ts";

// the public API, the internal subpath for Lifeguard's own packages, and the ready-made
// credentials providers (each its own subpath, so its optional cloud SDK is never loaded otherwise)
export default defineConfig(
  packageBuild(["src/index.ts", "src/internal.ts", "src/aws-rds-iam.ts", "src/azure-entra.ts"]),
);
