import { ManualClock } from "@lifeguard/core";
import { startFaultProxy, useTestDatabase } from "@lifeguard/test-fixtures";
import { it } from "vitest";
import { Pool } from "../src/index.js";

const db = useTestDatabase();
it("dbg", async () => {
  const proxy = await startFaultProxy(db.url);
  const clock = new ManualClock();
  const pool = new Pool({
    connectionString: proxy.url(db.url),
    connectionTimeoutMillis: 10_000,
    prePing: { bypassWindowMillis: 0, timeoutMillis: 1000 },
    clock,
  });
  await pool.query("select 1");
  await clock.advance(1);
  await proxy.blackhole();
  const outcome = pool.connect().then(
    () => "served",
    (e) => e.code,
  );
  await clock.advance(1000);
  await clock.advance(9000);
  console.log("outcome", await outcome);
  await proxy.pass();
  await pool.end();
  console.log("ended");
  const t = setTimeout(
    () =>
      console.log("HANG; connections", proxy.connections, JSON.stringify((proxy as any).debug())),
    3000,
  );
  await proxy.close();
  clearTimeout(t);
  console.log("closed");
}, 6000);
