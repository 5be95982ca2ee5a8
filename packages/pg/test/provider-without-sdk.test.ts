/**
 * The providers' modules load without their cloud SDKs (optional peer dependencies): a child
 * process where both SDKs fail to resolve, as when they are not installed, loads each provider and
 * uses it. Using it fails with ProviderSdkMissingError, naming the package to install.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const script = fileURLToPath(new URL("./fixtures/provider-without-sdk.ts", import.meta.url));

describe("a provider whose SDK is not installed", () => {
  it("loads, and fails on use naming the package to install", () => {
    const child = spawnSync(
      process.execPath,
      ["--import", "tsx", "--conditions=@lifeguard/source", script],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(child.stderr).not.toMatch(/Error/);
    const outcome = JSON.parse(child.stdout.trim().split("\n").at(-1) as string);
    expect(outcome.aws).toMatchObject({
      loaded: true,
      name: "ProviderSdkMissingError",
      code: "LIFEGUARD_PROVIDER_SDK_MISSING",
      packageName: "@aws-sdk/rds-signer",
    });
    expect(outcome.aws.message).toMatch(/npm install @aws-sdk\/rds-signer/);
    expect(outcome.azure).toMatchObject({
      loaded: true,
      name: "ProviderSdkMissingError",
      packageName: "@azure/identity",
    });
  });
});
