import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { doctor, formatDoctor } from "../src/index.js";

const db = useTestDatabase();

describe("doctor", () => {
  it("reports the server, its limits, connections by application and pool-relevant timeouts", async () => {
    const other = new pg.Client({ connectionString: db.url, application_name: "lg-doctor-probe" });
    await other.connect();
    try {
      const report = await doctor(db.url, { instances: 2 });
      expect(report.server.version).toMatch(/^PostgreSQL \d+/);
      const c = report.connections;
      expect(c.max).toBeGreaterThan(0);
      expect(c.available).toBe(c.max - c.superuserReserved - c.reserved);
      expect(c.byApplication).toContainEqual({
        application: "lg-doctor-probe",
        state: "idle",
        count: 1,
      });
      expect(Object.keys(report.timeouts)).toEqual(
        expect.arrayContaining([
          "idle_session_timeout",
          "idle_in_transaction_session_timeout",
          "tcp_keepalives_idle",
        ]),
      );
      expect(report.recommendedMax).toBe(Math.max(1, Math.floor((c.available * 0.8) / 2)));
      const text = formatDoctor(report);
      expect(text).toContain("lg-doctor-probe");
      expect(text).toContain("recommended max per instance (2 instances)");
    } finally {
      await other.end();
    }
  });

  it("warns about a server that closes idle sessions", async () => {
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    // per database, so only this test's database is affected
    await admin.query(`alter database "${db.name}" set idle_session_timeout = '5s'`);
    await admin.end();
    const report = await doctor(db.url);
    expect(report.timeouts["idle_session_timeout"]).toMatch(/^5000/);
    expect(report.findings.join("\n")).toMatch(/idle_session_timeout is 5000 ms/);
  });
});
