/**
 * `@lifeguard/pg/azure-entra`: credentials for Azure Database for PostgreSQL with Microsoft Entra
 * ID authentication. The password is an access token for the database's scope, from a
 * `TokenCredential` (`@azure/identity`); its expiry is the token's `expiresOnTimestamp`. Without a
 * credential, `DefaultAzureCredential` from `@azure/identity` (an optional peer dependency,
 * imported on the first fetch) is used. See docs/credentials.md.
 */
import type { Credentials, CredentialsProvider } from "./credentials-api.js";
import { importSdk } from "./provider-sdk.js";

export { ProviderSdkMissingError } from "./provider-sdk.js";

/** The scope of an access token for Azure Database for PostgreSQL. */
export const AZURE_POSTGRES_SCOPE = "https://ossrdbms-aad.database.windows.net/.default";

/** What the provider needs of an `@azure/core-auth` `TokenCredential`: any credential has it. */
export interface TokenCredentialLike {
  getToken(
    scopes: string | string[],
    options?: { abortSignal?: AbortSignal },
  ): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

export interface AzureEntraOptions {
  /** The PostgreSQL role: the Entra user, group or managed identity name it was created for. */
  readonly user: string;
  /** Where tokens come from; default `new DefaultAzureCredential()` from `@azure/identity`. */
  readonly credential?: TokenCredentialLike;
}

/**
 * A `credentials` provider for Entra ID authentication:
 *
 * ```ts
 * import { DefaultAzureCredential } from "@azure/identity";
 * import { Pool } from "@lifeguard/pg";
 * import { azureEntraCredentials } from "@lifeguard/pg/azure-entra";
 * const pool = new Pool({
 *   host: "myserver.postgres.database.azure.com", database: "app", ssl: true,
 *   credentials: azureEntraCredentials({ user: "my-app-identity", credential: new DefaultAzureCredential() }),
 * });
 * ```
 */
export function azureEntraCredentials(options: AzureEntraOptions): CredentialsProvider {
  if (typeof options?.user !== "string" || options.user === "") {
    throw new TypeError('azureEntraCredentials(): "user" must be the PostgreSQL role');
  }
  const given = options.credential;
  if (given !== undefined && typeof given?.getToken !== "function") {
    throw new TypeError('azureEntraCredentials(): "credential" must be a TokenCredential');
  }
  let credential: Promise<TokenCredentialLike> | undefined =
    given === undefined ? undefined : Promise.resolve(given);
  return async ({ signal }): Promise<Credentials> => {
    if (credential === undefined) {
      credential = importSdk(
        "azureEntraCredentials",
        "@azure/identity",
        () => import("@azure/identity"),
      ).then(({ DefaultAzureCredential }) => new DefaultAzureCredential());
      credential.catch(() => {
        credential = undefined;
      });
    }
    const token = await (await credential).getToken(AZURE_POSTGRES_SCOPE, { abortSignal: signal });
    if (token === null || typeof token?.token !== "string") {
      throw new Error(`the Azure credential returned no token for ${AZURE_POSTGRES_SCOPE}`);
    }
    return { user: options.user, password: token.token, expiresAt: token.expiresOnTimestamp };
  };
}
