import { afterEach, describe, expect, it, vi } from "vitest";
import { listPools } from "../src/index.js";
import { setup } from "./support/harness.js";

afterEach(() => {
  vi.restoreAllMocks();
});

function duplicateWarnings(spy: ReturnType<typeof vi.spyOn>): [string, { code: string }][] {
  return (spy.mock.calls as [string, { code: string }][]).filter(
    ([, options]) => options?.code === "LIFEGUARD_DUPLICATE_POOL_NAME",
  );
}

describe("duplicate pool names", () => {
  it("warns once when a pool is created with the name of another open pool", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    const first = setup({ name: "dup-orders" }).pool;
    expect(duplicateWarnings(warn)).toHaveLength(0);
    const second = setup({ name: "dup-orders" }).pool;
    const warnings = duplicateWarnings(warn);
    expect(warnings).toHaveLength(1);
    const [message, options] = warnings[0] as [string, { code: string; type: string }];
    expect(options).toMatchObject({
      code: "LIFEGUARD_DUPLICATE_POOL_NAME",
      type: "LifeguardWarning",
    });
    expect(message).toContain('"dup-orders"');
    expect(message).toContain('"dup-orders#2"');
    // both stay open and listed: nothing is merged or replaced
    expect(listPools()).toEqual(expect.arrayContaining([first, second]));
    // a third pool with the same name does not repeat the warning
    const third = setup({ name: "dup-orders" }).pool;
    expect(duplicateWarnings(warn)).toHaveLength(1);
    await Promise.all([first.close(), second.close(), third.close()]);
  });

  it("says nothing for distinct names, nor when the name's previous owner is closed", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    const a = setup({ name: "dup-a" }).pool;
    const b = setup({ name: "dup-b" }).pool;
    await a.close();
    const again = setup({ name: "dup-a" }).pool; // re-created after close: the usual restart
    expect(duplicateWarnings(warn)).toHaveLength(0);
    await Promise.all([b.close(), again.close()]);
  });

  it("warns separately for each duplicated name", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    const pools = [
      setup({ name: "dup-x" }).pool,
      setup({ name: "dup-x" }).pool,
      setup({ name: "dup-y" }).pool,
      setup({ name: "dup-y" }).pool,
    ];
    expect(duplicateWarnings(warn).map(([message]) => message.split('"')[1])).toEqual([
      "dup-x",
      "dup-y",
    ]);
    await Promise.all(pools.map((pool) => pool.close()));
  });
});
