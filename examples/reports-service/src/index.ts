import { drizzle } from "@lifeguard/drizzle";
import { poolConfig } from "@lifeguard/example-db-config";

/** The reports service's database: the same shared settings, through Drizzle. */
export function reportsDatabase(
  connectionString: string,
  env?: Readonly<Record<string, string | undefined>>,
) {
  return drizzle({ connection: connectionString, pool: { ...poolConfig(env), name: "reports" } });
}
