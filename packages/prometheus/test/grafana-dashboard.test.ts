/**
 * docs/grafana/lifeguard.json: valid dashboard JSON whose every query names series that
 * registerLifeguardMetrics() really exposes, with labels they really have.
 */
import { readFileSync } from "node:fs";
import type { Pool } from "@lifeguard/core";
import { createPool } from "@lifeguard/core";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { StubConnection } from "../../core/test/support/stub-connector.js";
import { TwoServerConnector } from "../../core/test/support/two-server-connector.js";
import type { LifeguardMetrics } from "../src/index.js";
import { registerLifeguardMetrics } from "../src/index.js";
import type { Exposition } from "./support/exposition.js";
import { parseExposition } from "./support/exposition.js";
import type { ScriptedPool } from "./support/scripted-workload.js";
import { runScriptedWorkload, scriptedPool } from "./support/scripted-workload.js";

interface Target {
  refId: string;
  expr: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Variable {
  type: string;
  name: string;
  query: string | { query: string };
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboardText = readFileSync(
  new URL("../../../docs/grafana/lifeguard.json", import.meta.url),
  "utf8",
);
const dashboard = JSON.parse(dashboardText) as Dashboard;
const queries = dashboard.panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })),
);

/** Series names in a PromQL expression: ours all start with these prefixes. */
function seriesIn(expr: string): string[] {
  return [...expr.matchAll(/\b(db_client_connection_[a-z_]+|lifeguard_[a-z_]+)\b/g)].map(
    (m) => m[1] as string,
  );
}

/** Label names a PromQL expression uses: in `{...}` matchers and in `by (...)` / `without (...)`. */
function labelsIn(expr: string): string[] {
  const labels: string[] = [];
  for (const [, body] of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const [, name] of (body as string).matchAll(
      /([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g,
    )) {
      labels.push(name as string);
    }
  }
  for (const [, list] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const name of (list as string).split(",")) labels.push(name.trim());
  }
  return labels;
}

let registry: Registry;
let metrics: LifeguardMetrics;
let scripted: ScriptedPool;
let exposition: Exposition;
let hosts: Pool<StubConnection>;

beforeAll(async () => {
  vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
  registry = new Registry();
  metrics = registerLifeguardMetrics({ register: registry });
  scripted = scriptedPool("dashboard");
  await runScriptedWorkload(scripted);
  // a pool over two servers (cluster mode), so the per-host series are exposed too
  hosts = createPool({ name: "dashboard-hosts", connector: new TwoServerConnector(), max: 2 });
  const leases = [await hosts.acquire(), await hosts.acquire()];
  leases[0]?.release();
  exposition = parseExposition(await registry.metrics());
});

afterAll(async () => {
  metrics.unregister();
  await scripted.pool.close({ timeoutMillis: 0 });
  await hosts.close({ timeoutMillis: 0 });
  vi.restoreAllMocks();
});

describe("docs/grafana/lifeguard.json", () => {
  it("is dashboard JSON Grafana can import", () => {
    expect(dashboard.title).toBeTypeOf("string");
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.panels.length).toBeGreaterThan(0);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const variables = dashboard.templating.list.map((v) => v.name);
    expect(variables).toEqual(expect.arrayContaining(["datasource", "pool"]));
    expect(dashboard.templating.list.find((v) => v.name === "datasource")?.type).toBe("datasource");
    for (const panel of dashboard.panels) {
      expect(["row", "timeseries", "stat"], panel.title).toContain(panel.type);
      const { h, w, x, y } = panel.gridPos;
      for (const n of [h, w, x, y]) expect(Number.isInteger(n), panel.title).toBe(true);
      expect(x + w, panel.title).toBeLessThanOrEqual(24);
      if (panel.type === "row") continue;
      // Grafana's own placeholder, filled from the `datasource` variable
      const uid = ["$", "{datasource}"].join("");
      expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
    }
  });

  it("has no overlapping panels", () => {
    const cells = new Map<string, string>();
    for (const panel of dashboard.panels) {
      const { h, w, x, y } = panel.gridPos;
      for (let row = y; row < y + h; row++) {
        for (let col = x; col < x + w; col++) {
          const key = `${row}:${col}`;
          expect(cells.get(key), `${panel.title} overlaps ${cells.get(key)}`).toBeUndefined();
          cells.set(key, panel.title);
        }
      }
    }
  });

  it("queries only series the Prometheus exporter exposes", () => {
    const exposed = new Set(exposition.samples.map((s) => s.name));
    expect(queries.length).toBeGreaterThan(10);
    for (const { panel, expr } of queries) {
      const names = seriesIn(expr);
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(exposed, `${panel}: ${name}`).toContain(name);
    }
    const pool = dashboard.templating.list.find((v) => v.name === "pool") as Variable;
    const poolQuery = typeof pool.query === "string" ? pool.query : pool.query.query;
    for (const name of seriesIn(poolQuery)) expect(exposed).toContain(name);
  });

  it("uses only labels those series have", () => {
    for (const { panel, expr } of queries) {
      const names = new Set(seriesIn(expr));
      const available = new Set<string>();
      for (const s of exposition.samples) {
        if (names.has(s.name)) for (const label of Object.keys(s.labels)) available.add(label);
      }
      for (const label of labelsIn(expr)) {
        expect(available, `${panel}: label ${label} in ${expr}`).toContain(label);
      }
    }
  });

  it("shows every metric the exporter registers", () => {
    const familyOf = (name: string) => {
      const base = name.replace(/_(bucket|sum|count)$/, "");
      return exposition.types.get(base) === "histogram" ? base : name;
    };
    const queried = new Set(queries.flatMap(({ expr }) => seriesIn(expr)).map(familyOf));
    for (const family of exposition.types.keys()) {
      if (family === "db_client_connection_idle_max") continue; // same as max in Lifeguard
      expect(queried, family).toContain(family);
    }
  });
});
