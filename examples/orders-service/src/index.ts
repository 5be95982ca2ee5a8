import { poolConfig } from "@lifeguard/example-db-config";
import { Pool } from "@lifeguard/pg";

/** The orders service's database: the shared settings, its own name and connection. */
export function ordersDatabase(
  connectionString: string,
  env?: Readonly<Record<string, string | undefined>>,
) {
  return new Pool({ ...poolConfig(env), name: "orders", connectionString });
}
