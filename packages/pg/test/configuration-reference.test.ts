import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderConfigurationReference } from "../../../scripts/configuration-reference.js";
import { pgEnvSchema } from "../src/internal.js";

describe("docs/configuration.md", () => {
  it("is generated from the option definitions and up to date (run `pnpm docs:config`)", () => {
    const committed = readFileSync(
      new URL("../../../docs/configuration.md", import.meta.url),
      "utf8",
    );
    expect(committed).toBe(renderConfigurationReference());
  });

  it("lists every option's environment variable", () => {
    const reference = renderConfigurationReference();
    for (const name of Object.keys(pgEnvSchema))
      expect(reference).toContain(`\`LIFEGUARD_${name}\``);
  });
});
