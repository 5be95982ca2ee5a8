/**
 * The ready-made providers with their real cloud SDKs and no network: the RDS signer with static
 * fake AWS credentials, and Entra tokens from a fake source, alone and behind the SDK's own
 * credential class. Refresh timing runs on a manual clock.
 */
import { ChainedTokenCredential } from "@azure/identity";
import { ManualClock } from "@lifeguard/core";
import { describe, expect, it } from "vitest";
import type { AwsCredentialIdentityLike } from "../src/aws-rds-iam.js";
import { awsRdsIamCredentials, tokenExpiry } from "../src/aws-rds-iam.js";
import type { TokenCredentialLike } from "../src/azure-entra.js";
import { AZURE_POSTGRES_SCOPE, azureEntraCredentials } from "../src/azure-entra.js";
import type { IssuedCredentials } from "../src/credentials.js";
import { CredentialSource } from "../src/credentials.js";
import type { CredentialsProvider } from "../src/credentials-api.js";
import { importSdk, ProviderSdkMissingError } from "../src/provider-sdk.js";

const HOST = "orders.cluster-abc123.eu-west-1.rds.amazonaws.com";
const FAKE_AWS: AwsCredentialIdentityLike = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const signal = new AbortController().signal;

describe("awsRdsIamCredentials (@aws-sdk/rds-signer)", () => {
  it("returns the role and a presigned rds-db:connect token valid 15 minutes", async () => {
    const provider = awsRdsIamCredentials({
      hostname: HOST,
      port: 5432,
      username: "app_iam",
      region: "eu-west-1",
      credentials: FAKE_AWS,
    });
    const before = Date.now();
    const credentials = await provider({ signal });
    const after = Date.now();
    expect(credentials.user).toBe("app_iam");
    expect(credentials.password).toMatch(
      new RegExp(
        `^${HOST.replaceAll(".", "\\.")}:5432/\\?Action=connect&DBUser=app_iam&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F\\d{8}%2Feu-west-1%2Frds-db%2Faws4_request&X-Amz-Date=\\d{8}T\\d{6}Z&X-Amz-Expires=900&X-Amz-Signature=[0-9a-f]{64}&X-Amz-SignedHeaders=host$`,
      ),
    );
    // the token's own date plus 900 s (its date is whole seconds, taken while signing)
    const expiresAt = credentials.expiresAt as number;
    expect(expiresAt).toBe(tokenExpiry(credentials.password));
    expect(expiresAt).toBeGreaterThan(before + 900_000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(after + 900_000);
  });

  it("signs with credentials from a provider, session token included", async () => {
    let calls = 0;
    const provider = awsRdsIamCredentials({
      hostname: HOST,
      username: "app_iam",
      region: "eu-west-1",
      credentials: async () => {
        calls++;
        return {
          ...FAKE_AWS,
          sessionToken: "FwoGZXIvYXdzEXAMPLESESSION",
          expiration: new Date(Date.now() + 3_600_000),
        };
      },
    });
    const { password } = await provider({ signal });
    expect(calls).toBeGreaterThan(0);
    expect(password).toContain("X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLESESSION");
    expect(password).toContain(`${HOST}:5432/?Action=connect`);
  });

  it("the pool refreshes the token at 80% of its 15 minutes", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const inner = awsRdsIamCredentials({
      hostname: HOST,
      username: "app_iam",
      region: "eu-west-1",
      credentials: FAKE_AWS,
    });
    const provider: CredentialsProvider = (context) => {
      calls++;
      return inner(context);
    };
    const source = new CredentialSource({ provider, clock });
    const first = (await source.get()) as IssuedCredentials;
    const left = first.expiresAt - clock.now();
    expect(left).toBeGreaterThan(899_000 - 1000);
    expect(left).toBeLessThanOrEqual(900_000);
    await clock.advance(Math.floor(left * 0.8) - 1);
    expect(calls).toBe(1);
    await clock.advance(2);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the SDK signs asynchronously
    expect(calls).toBe(2);
    source.close();
  });

  it("refuses options without an endpoint or a role", () => {
    expect(() => awsRdsIamCredentials({ hostname: "", username: "u" })).toThrow(/hostname/);
    expect(() => awsRdsIamCredentials({ hostname: HOST, username: "" })).toThrow(/username/);
  });
});

describe("azureEntraCredentials (@azure/identity)", () => {
  /** A token source standing in for Entra: no network. */
  function fakeEntra(now: () => number) {
    const calls: { scopes: string | string[]; abortSignal: AbortSignal | undefined }[] = [];
    const credential: TokenCredentialLike = {
      async getToken(scopes, options) {
        calls.push({ scopes, abortSignal: options?.abortSignal });
        return { token: `eyJ0eXAi.fake-${calls.length}`, expiresOnTimestamp: now() + 3_600_000 };
      },
    };
    return { credential, calls };
  }

  it("asks for the PostgreSQL scope and uses the token's expiry", async () => {
    const entra = fakeEntra(Date.now);
    const provider = azureEntraCredentials({ user: "orders-api", credential: entra.credential });
    const credentials = await provider({ signal });
    expect(entra.calls).toEqual([{ scopes: AZURE_POSTGRES_SCOPE, abortSignal: signal }]);
    expect(AZURE_POSTGRES_SCOPE).toBe("https://ossrdbms-aad.database.windows.net/.default");
    expect(credentials).toMatchObject({ user: "orders-api", password: "eyJ0eXAi.fake-1" });
    expect(credentials.expiresAt).toBeGreaterThan(Date.now() + 3_500_000);
  });

  it("works behind the SDK's own credential class, and the pool refreshes ahead of expiry", async () => {
    const clock = new ManualClock();
    const epoch = 1_800_000_000_000;
    const wall = () => epoch + clock.now();
    const entra = fakeEntra(wall);
    // @azure/identity's ChainedTokenCredential, fed from the fake source
    const provider = azureEntraCredentials({
      user: "orders-api",
      credential: new ChainedTokenCredential(entra.credential as never),
    });
    const rotated: string[] = [];
    const source = new CredentialSource({
      provider,
      clock,
      wallNow: wall,
      rotated: (_, next) => rotated.push(next.password),
    });
    const first = (await source.get()) as IssuedCredentials;
    expect(first.password).toBe("eyJ0eXAi.fake-1");
    expect(first.expiresAt).toBe(clock.now() + 3_600_000);
    expect(entra.calls[0]?.scopes).toBe(AZURE_POSTGRES_SCOPE);
    await clock.advance(0.8 * 3_600_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(entra.calls).toHaveLength(2);
    expect((source.get() as IssuedCredentials).password).toBe("eyJ0eXAi.fake-2");
    expect(rotated).toEqual(["eyJ0eXAi.fake-2"]);
    source.close();
  });

  it("a credential that returns no token fails the fetch", async () => {
    const provider = azureEntraCredentials({
      user: "orders-api",
      credential: { getToken: async () => null },
    });
    await expect(provider({ signal })).rejects.toThrow(/no token for https:\/\/ossrdbms/);
  });

  it("refuses options without a role or with something that is not a credential", () => {
    expect(() => azureEntraCredentials({ user: "" })).toThrow(/user/);
    expect(() =>
      azureEntraCredentials({ user: "u", credential: {} as unknown as TokenCredentialLike }),
    ).toThrow(/TokenCredential/);
  });
});

describe("a provider's SDK that is not installed", () => {
  it("is reported when the provider is used, naming the package to install", async () => {
    const missing = Object.assign(new Error("Cannot find package '@aws-sdk/rds-signer'"), {
      code: "ERR_MODULE_NOT_FOUND",
    });
    const error = await importSdk("awsRdsIamCredentials", "@aws-sdk/rds-signer", () =>
      Promise.reject(missing),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderSdkMissingError);
    expect((error as Error).message).toMatch(/npm install @aws-sdk\/rds-signer/);
    expect((error as { code?: string }).code).toBe("LIFEGUARD_PROVIDER_SDK_MISSING");
    expect((error as Error).cause).toBe(missing);
  });

  it("any other load error passes through unchanged", async () => {
    const broken = new SyntaxError("Unexpected token");
    await expect(
      importSdk("azureEntraCredentials", "@azure/identity", () => Promise.reject(broken)),
    ).rejects.toBe(broken);
  });
});
