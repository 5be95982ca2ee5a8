/**
 * HostRegistry's choices with a scripted recheck (no servers): the order hosts are tried in, a
 * down host's back-off, prefer-standby, the lag limit, and connections retired when their host's
 * role changes. The same machinery on real servers is in routing.test.ts and failover.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { ProbeResult } from "../../src/cluster/host-probe.js";
import { HostRegistry } from "../../src/cluster/host-registry.js";
import type { RoutedConnection } from "../../src/cluster/host-state.js";
import type { HostAddress, TargetSessionAttrs } from "../../src/cluster/target.js";

const PRIMARY = { hotStandby: false, readOnly: false };
const STANDBY = { hotStandby: true, readOnly: true };

function registry(
  roles: Record<number, ProbeResult | Error>,
  options: { loadBalance?: "disable" | "random"; maxLag?: number } = {},
) {
  let now = 0;
  const probes: number[] = [];
  const hosts: HostAddress[] = Object.keys(roles).map((port) => ({
    host: "h",
    port: Number(port),
  }));
  const r = new HostRegistry({
    hosts,
    loadBalanceHosts: options.loadBalance ?? "disable",
    recheckMillis: 10_000,
    maxReplicaLagMillis: options.maxLag,
    now: () => now,
    random: () => 0.5,
    probe: async (address) => {
      probes.push(address.port);
      const result = roles[address.port];
      if (result instanceof Error) throw result;
      return result as ProbeResult;
    },
  });
  return {
    r,
    probes,
    roles,
    advance: (millis: number) => {
      now += millis;
    },
    choose: async (target: TargetSessionAttrs, lagLimited = false) =>
      (await r.choose(target, lagLimited, Number.POSITIVE_INFINITY, () => false)).port,
  };
}

describe("HostRegistry", () => {
  it("chooses by target, in the order given", async () => {
    const { choose } = registry({
      1: { role: STANDBY, lagMillis: undefined },
      2: { role: PRIMARY, lagMillis: undefined },
      3: { role: STANDBY, lagMillis: undefined },
    });
    expect(await choose("read-write")).toBe(2);
    expect(await choose("primary")).toBe(2);
    expect(await choose("standby")).toBe(1);
    expect(await choose("read-only")).toBe(1);
    expect(await choose("prefer-standby")).toBe(1);
    expect(await choose("any")).toBe(1);
  });

  it("skips a host whose connects fail until a recheck reaches it after its back-off", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    const { r, probes, roles, advance, choose } = registry({
      1: refused,
      2: { role: PRIMARY, lagMillis: undefined },
    });
    expect(await choose("any")).toBe(2);
    expect(r.snapshot()[0]).toMatchObject({ role: "down", failures: 1 });
    // within the back-off the down host is not asked again, however many connects
    const asked = probes.length;
    for (let i = 0; i < 10; i++) expect(await choose("any")).toBe(2);
    await r.refresh();
    expect(probes.filter((p) => p === 1).length).toBe(
      probes.slice(0, asked).filter((p) => p === 1).length,
    );
    // back: once the back-off ends a recheck reaches it, and it is used again
    roles[1] = { role: PRIMARY, lagMillis: undefined };
    advance(200);
    await r.refresh();
    expect(r.snapshot()[0]?.role).toBe("primary");
    expect(await choose("any")).toBe(1);
  });

  it("prefer-standby falls back to the primary only when no standby is up", async () => {
    const { choose, r } = registry({
      1: { role: PRIMARY, lagMillis: undefined },
      2: { role: PRIMARY, lagMillis: undefined },
    });
    expect(await choose("prefer-standby")).toBe(1);
    r.learned(r.records[1] as never, STANDBY);
    expect(await choose("prefer-standby")).toBe(2);
  });

  it("skips a standby past the lag limit for reads, not for the writer's targets", async () => {
    const { choose } = registry(
      {
        1: { role: PRIMARY, lagMillis: undefined },
        2: { role: STANDBY, lagMillis: 5_000 },
        3: { role: STANDBY, lagMillis: 10 },
      },
      { maxLag: 1_000 },
    );
    expect(await choose("standby", true)).toBe(3);
    expect(await choose("standby", false)).toBe(2);
  });

  it("retires connections whose host stops matching their target (a promoted standby)", async () => {
    const { r, choose } = registry({
      1: { role: PRIMARY, lagMillis: undefined },
      2: { role: STANDBY, lagMillis: undefined },
    });
    expect(await choose("standby")).toBe(2);
    const retired: string[] = [];
    const connection = (target: TargetSessionAttrs): RoutedConnection => ({
      target,
      lagLimited: false,
      role: STANDBY,
      retire: () => retired.push(target),
    });
    const record = r.records[1] as never;
    r.track(record, connection("standby"));
    r.track(record, connection("any"));
    r.learned(record, PRIMARY);
    expect(retired).toEqual(["standby"]);
    expect(await choose("read-write")).toBe(1);
  });

  it("load_balance_hosts=random: a burst of connects spreads evenly over the matching hosts", async () => {
    const { r, choose } = registry(
      {
        1: { role: PRIMARY, lagMillis: undefined },
        2: { role: STANDBY, lagMillis: undefined },
        3: { role: STANDBY, lagMillis: undefined },
      },
      { loadBalance: "random" },
    );
    await r.refresh();
    // eight connects in flight at once (none has ended): each counts where it went
    const chosen: number[] = [];
    for (let i = 0; i < 8; i++) chosen.push(await choose("prefer-standby"));
    expect(chosen.filter((p) => p === 2)).toHaveLength(4);
    expect(chosen.filter((p) => p === 3)).toHaveLength(4);
    // a connect that ended no longer counts: the next one goes where it left a gap
    r.opened(r.records[1] as never);
    expect(await choose("prefer-standby")).toBe(2);
  });

  it("load_balance_hosts=random: a standby back in service takes its share of the reads, retired softly from the others", async () => {
    const { r } = registry(
      {
        1: { role: PRIMARY, lagMillis: undefined },
        2: { role: STANDBY, lagMillis: undefined },
        3: { role: STANDBY, lagMillis: undefined },
      },
      { loadBalance: "random" },
    );
    await r.refresh();
    const [primary, standby2, standby3] = r.records as never as [never, never, never];
    // standby 3 went down; its reads moved to standby 2 (8 there), the writer's 3 on the primary
    r.failed(standby3, new Error("connect ECONNREFUSED"));
    const retired: RoutedConnection[] = [];
    const connection = (target: TargetSessionAttrs): RoutedConnection => {
      const c: RoutedConnection = {
        target,
        lagLimited: false,
        role: undefined,
        retire: () => retired.push(c),
      };
      return c;
    };
    for (let i = 0; i < 8; i++) r.track(standby2, connection("prefer-standby"));
    for (let i = 0; i < 3; i++) r.track(primary, connection("read-write"));
    // back: half of the reads retire on their next return; the writer's connections stay
    r.learned(standby3, STANDBY);
    expect(retired).toHaveLength(4);
    expect(retired.every((c) => c.target === "prefer-standby")).toBe(true);
    // learned again while up: nothing more moves
    r.learned(standby3, STANDBY);
    expect(retired).toHaveLength(4);
  });

  it("a host refused to this process (its budget, under enforce) takes no connects; alone, its refusal fails them at once", async () => {
    const { r, choose } = registry({
      1: { role: PRIMARY, lagMillis: undefined },
      2: { role: STANDBY, lagMillis: undefined },
      3: { role: STANDBY, lagMillis: undefined },
    });
    await r.refresh();
    const overBudget = new Error("budget exceeded on host h:2");
    r.refuse("h:2", overBudget);
    // another standby serves the reads
    expect(await choose("standby")).toBe(3);
    expect(await choose("prefer-standby")).toBe(3);
    // the primary is the only host for writes: refusing it fails them with its error, no wait
    const refusedPrimary = new Error("budget exceeded on host h:1");
    r.refuse("h:1", refusedPrimary);
    await expect(choose("read-write")).rejects.toBe(refusedPrimary);
    r.refuse("h:3", new Error("budget exceeded on host h:3"));
    await expect(choose("standby")).rejects.toBe(overBudget);
  });
});
