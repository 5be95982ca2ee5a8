/**
 * `@lifeguard/pg/aws-rds-iam`: credentials for Amazon RDS and Aurora PostgreSQL with IAM database
 * authentication. The password is a token `@aws-sdk/rds-signer` presigns (valid 15 minutes); the
 * pool fetches the next one ahead of each expiry. `@aws-sdk/rds-signer` is an optional peer
 * dependency, imported on the first fetch. See docs/credentials.md.
 */
import type { Credentials, CredentialsProvider } from "./credentials-api.js";
import { importSdk } from "./provider-sdk.js";

export { ProviderSdkMissingError } from "./provider-sdk.js";

/** AWS credentials to sign with, as the AWS SDK takes them. */
export interface AwsCredentialIdentityLike {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

export interface AwsRdsIamOptions {
  /** The database endpoint, exactly as the pool connects to it (the token is signed for it). */
  readonly hostname: string;
  /** Default 5432. */
  readonly port?: number;
  /** The database role, granted `rds_iam`; also the pool's login user. */
  readonly username: string;
  /** The database's region; default: the AWS SDK's (profile, `AWS_REGION`). */
  readonly region?: string;
  /** An AWS profile for the region and credentials. */
  readonly profile?: string;
  /** Credentials or a credential provider; default: the AWS SDK's default chain. */
  readonly credentials?: AwsCredentialIdentityLike | (() => Promise<AwsCredentialIdentityLike>);
}

/** How long an RDS IAM token is valid, when the token itself does not say. */
export const RDS_IAM_TOKEN_LIFETIME_MILLIS = 15 * 60_000;

/**
 * A `credentials` provider for RDS IAM authentication:
 *
 * ```ts
 * import { Pool } from "@lifeguard/pg";
 * import { awsRdsIamCredentials } from "@lifeguard/pg/aws-rds-iam";
 * const pool = new Pool({
 *   host, database, ssl: true,
 *   credentials: awsRdsIamCredentials({ hostname: host, username: "app", region: "eu-west-1" }),
 * });
 * ```
 */
export function awsRdsIamCredentials(options: AwsRdsIamOptions): CredentialsProvider {
  if (typeof options?.hostname !== "string" || options.hostname === "") {
    throw new TypeError('awsRdsIamCredentials(): "hostname" must be the database endpoint');
  }
  if (typeof options.username !== "string" || options.username === "") {
    throw new TypeError('awsRdsIamCredentials(): "username" must be the database role');
  }
  let signer: Promise<{ getAuthToken(): Promise<string> }> | undefined;
  return async (): Promise<Credentials> => {
    if (signer === undefined) {
      signer = importSdk(
        "awsRdsIamCredentials",
        "@aws-sdk/rds-signer",
        () => import("@aws-sdk/rds-signer"),
      ).then(
        ({ Signer }) =>
          new Signer({
            hostname: options.hostname,
            port: options.port ?? 5432,
            username: options.username,
            ...(options.region === undefined ? {} : { region: options.region }),
            ...(options.profile === undefined ? {} : { profile: options.profile }),
            ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
          }),
      );
      // a failed import is retried on the next fetch (the package may be installed meanwhile)
      signer.catch(() => {
        signer = undefined;
      });
    }
    const signedBefore = Date.now();
    const token = await (await signer).getAuthToken();
    return {
      user: options.username,
      password: token,
      expiresAt: tokenExpiry(token) ?? signedBefore + RDS_IAM_TOKEN_LIFETIME_MILLIS,
    };
  };
}

/** When a presigned token expires: its `X-Amz-Date` plus `X-Amz-Expires` seconds. */
export function tokenExpiry(token: string): number | undefined {
  const query = token.slice(token.indexOf("?") + 1);
  const params = new URLSearchParams(query);
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(
    params.get("X-Amz-Date") ?? "",
  );
  const seconds = Number(params.get("X-Amz-Expires"));
  if (date === null || !Number.isInteger(seconds) || seconds <= 0) return undefined;
  const [, y, mo, d, h, mi, s] = date.map(Number) as number[];
  return Date.UTC(y as number, (mo as number) - 1, d, h, mi, s) + seconds * 1000;
}
