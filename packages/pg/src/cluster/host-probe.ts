import type pg from "pg";
import { destroySocket, onParameterStatus, pointAt } from "../pg-internals.js";
import type { HostAddress, ServerRole } from "./target.js";

type ClientClass = new (config?: pg.ClientConfig) => pg.Client;

/** What a recheck learned of a host. */
export interface ProbeResult {
  readonly role: ServerRole;
  /** A standby's replay lag in ms (Infinity: behind, by an unknown amount); only when asked for. */
  readonly lagMillis: number | undefined;
}

/**
 * A standby's replay lag: 0 when it has replayed all it received (an idle primary writes nothing,
 * so the last replayed commit ages without the standby being behind), otherwise how old the last
 * replayed commit is. Null when it is behind and has replayed nothing yet.
 */
const LAG_QUERY =
  "select case when pg_last_wal_receive_lsn() is null or pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() then 0::float8 else (extract(epoch from (clock_timestamp() - pg_last_xact_replay_timestamp())) * 1000)::float8 end as lag";
/** For servers (or poolers) that do not report `in_hot_standby` at start-up. */
const ROLE_QUERY =
  "select pg_is_in_recovery() as hot_standby, current_setting('default_transaction_read_only') = 'on' as read_only";

/** What the start-up ParameterStatus messages said: undefined where a server did not report it. */
export interface ReportedRole {
  hotStandby: boolean | undefined;
  readOnly: boolean | undefined;
}

/** Notes `in_hot_standby` / `default_transaction_read_only` from ParameterStatus into `into`. */
export function watchRole(client: pg.Client, into: ReportedRole, onChange?: () => void): void {
  onParameterStatus(client, (message) => {
    if (message.parameterName === "in_hot_standby") {
      into.hotStandby = message.parameterValue === "on";
      onChange?.();
    } else if (message.parameterName === "default_transaction_read_only") {
      into.readOnly = message.parameterValue === "on";
      onChange?.();
    }
  });
}

/** Asks the server for what it did not report (PgBouncer, and servers older than 14, report neither). */
export async function completeRole(
  client: pg.Client,
  reported: ReportedRole,
  query: (client: pg.Client, text: string) => Promise<{ rows: Record<string, unknown>[] }>,
): Promise<ServerRole> {
  if (reported.hotStandby !== undefined && reported.readOnly !== undefined)
    return { hotStandby: reported.hotStandby, readOnly: reported.readOnly };
  const { rows } = await query(client, ROLE_QUERY);
  const row = rows[0] as { hot_standby: boolean; read_only: boolean };
  return { hotStandby: row.hot_standby, readOnly: row.read_only };
}

/**
 * Connects to one host on a connection of its own (outside every pool), learns its role and, for a
 * standby when asked, its replay lag, and closes. Bounded by `timeoutMillis`.
 */
export async function probeHost(
  Client: ClientClass,
  clientConfig: pg.ClientConfig,
  address: HostAddress,
  options: { timeoutMillis: number; measureLag: boolean },
): Promise<ProbeResult> {
  const client = new Client(clientConfig);
  pointAt(client, address);
  client.on("error", noop);
  const reported: ReportedRole = { hotStandby: undefined, readOnly: undefined };
  watchRole(client, reported);
  const query = (c: pg.Client, text: string) =>
    c.query(text) as unknown as Promise<{ rows: Record<string, unknown>[] }>;
  let timer: NodeJS.Timeout | undefined;
  const work = (async () => {
    await client.connect();
    const role = await completeRole(client, reported, query);
    let lagMillis: number | undefined;
    if (options.measureLag && role.hotStandby) {
      const { rows } = await query(client, LAG_QUERY);
      const lag = (rows[0] as { lag: number | null }).lag;
      lagMillis = lag === null ? Number.POSITIVE_INFINITY : Math.max(0, lag);
    }
    return { role, lagMillis };
  })();
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `host ${address.host}:${address.port} did not answer within ${options.timeoutMillis} ms`,
              ),
            ),
          options.timeoutMillis,
        );
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
    work.catch(noop);
    client.end().catch(noop);
    // a blackholed host never answers the Terminate either
    setTimeout(() => destroySocket(client), 2000).unref();
  }
}

const noop = () => {};
