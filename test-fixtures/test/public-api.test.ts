/**
 * Each package's main entry exports only what its README lists under "Public API" (types are
 * checked by review; this checks every runtime export). What sibling packages share beyond it
 * lives behind an internal subpath (docs/architecture.md, "Public and internal").
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const packages = ["pg", "drizzle", "knex", "prisma", "otel", "prometheus", "cli", "embedded"];

function listedNames(pkg: string): Set<string> {
  const readme = readFileSync(new URL(`../../packages/${pkg}/README.md`, import.meta.url), "utf8");
  const start = readme.indexOf("\n## Public API\n");
  if (start === -1) return new Set();
  const rest = readme.slice(start + 1);
  const next = rest.indexOf("\n## ", 1);
  const section = next === -1 ? rest : rest.slice(0, next);
  return new Set([...section.matchAll(/`([A-Za-z_$][\w$]*)/g)].map((m) => m[1] as string));
}

describe("each package's main entry is its README's Public API", () => {
  it.each(packages)("@lifeguard/%s exports nothing its README does not list", async (pkg) => {
    const listed = listedNames(pkg);
    expect(listed.size).toBeGreaterThan(0);
    const entry = (await import(`../../packages/${pkg}/src/index.ts`)) as Record<string, unknown>;
    const unlisted = Object.keys(entry).filter((name) => !listed.has(name));
    expect(unlisted).toEqual([]);
  });
});
