import { existsSync, readFileSync } from "node:fs";
import type { SourceMapPayload } from "node:module";
import { SourceMap } from "node:module";
import { fileURLToPath } from "node:url";

/** The parts of a V8 `.cpuprofile` the summary reads. */
interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  readonly name: string;
  /** Path relative to the repository (or the URL / a V8 pseudo-frame). */
  readonly where: string;
  readonly selfMillis: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMillis: number;
  readonly functions: readonly FunctionTime[];
  /** Self time by area: core/src, node internals, bench, dependencies, V8 (GC, idle, program). */
  readonly areas: readonly { area: string; millis: number; share: number }[];
  /**
   * Self time of Node/V8 internals (builtins, `node:*`), charged to the nearest project function
   * up the stack that called them: what `performance.now()` costs the pool, for instance.
   */
  readonly internalsByCaller: readonly FunctionTime[];
}

/**
 * Self time per function (summed over the function's nodes in the call tree). `sourceMapsFile`
 * (url → source map payload) maps positions in tsx's compiled code back to the .ts lines.
 */
export function summarizeProfile(
  file: string,
  repoDir: string,
  sourceMapsFile?: string,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const maps = new Map<string, SourceMap>();
  if (sourceMapsFile !== undefined && existsSync(sourceMapsFile)) {
    const payloads = JSON.parse(readFileSync(sourceMapsFile, "utf8")) as Record<
      string,
      SourceMapPayload
    >;
    for (const [url, payload] of Object.entries(payloads)) maps.set(url, new SourceMap(payload));
  }
  const byNode = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    byNode.set(id, (byNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const parents = new Map<number, CpuProfile["nodes"][number]>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parents.set(child, node);
  const byCaller = new Map<string, { name: string; where: string; selfMillis: number }>();
  const byFunction = new Map<string, { name: string; where: string; selfMillis: number }>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const self = byNode.get(node.id) ?? 0;
    if (self === 0) continue;
    total += self;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    const where = location(url, originalLine(maps.get(url), lineNumber, columnNumber), repoDir);
    const name = functionName === "" ? "(anonymous)" : functionName;
    const key = `${name}\u0000${where}`;
    const entry = byFunction.get(key) ?? { name, where, selfMillis: 0 };
    entry.selfMillis += self;
    byFunction.set(key, entry);
    const area = areaOf(url, name);
    byArea.set(area, (byArea.get(area) ?? 0) + self);
    if (isInternal(url, name)) {
      let caller = parents.get(node.id);
      while (
        caller !== undefined &&
        isInternal(caller.callFrame.url, caller.callFrame.functionName)
      )
        caller = parents.get(caller.id);
      if (caller !== undefined && caller.callFrame.url !== "") {
        const frame = caller.callFrame;
        const callerName = `${frame.functionName === "" ? "(anonymous)" : frame.functionName} → ${name}`;
        const callerWhere = location(
          frame.url,
          originalLine(maps.get(frame.url), frame.lineNumber, frame.columnNumber),
          repoDir,
        );
        const callerKey = `${callerName}\u0000${callerWhere}`;
        const c = byCaller.get(callerKey) ?? {
          name: callerName,
          where: callerWhere,
          selfMillis: 0,
        };
        c.selfMillis += self;
        byCaller.set(callerKey, c);
      }
    }
  }
  const functions = [...byFunction.values()]
    .sort((a, b) => b.selfMillis - a.selfMillis)
    .map((f) => ({ ...f, share: f.selfMillis / total }));
  const areas = [...byArea.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([area, millis]) => ({ area, millis, share: millis / total }));
  const internalsByCaller = [...byCaller.values()]
    .sort((a, b) => b.selfMillis - a.selfMillis)
    .map((f) => ({ ...f, share: f.selfMillis / total }));
  return { totalMillis: total, functions, areas, internalsByCaller };
}

/** Builtins and Node internals: not project code, and not GC, idle or "(program)". */
function isInternal(url: string, name: string): boolean {
  if (url.startsWith("node:")) return true;
  return url === "" && !name.startsWith("(");
}

/** 1-based source line; undefined when the position cannot be mapped. */
function originalLine(
  map: SourceMap | undefined,
  line: number,
  column: number,
): number | undefined {
  if (map === undefined) return line === 0 ? undefined : line + 1;
  const entry = map.findEntry(line, column) as { originalLine?: number };
  return entry.originalLine === undefined ? undefined : entry.originalLine + 1;
}

function location(url: string, line: number | undefined, repoDir: string): string {
  if (url === "") return "(V8)";
  let file = url;
  if (url.startsWith("file://")) file = fileURLToPath(url);
  if (file.startsWith(`${repoDir}/`)) file = file.slice(repoDir.length + 1);
  return line === undefined ? file : `${file}:${line}`;
}

function areaOf(url: string, name: string): string {
  if (url.includes("/packages/core/src/")) return "@lifeguard/core (packages/core/src)";
  if (url.includes("/packages/pg/src/")) return "@lifeguard/pg (packages/pg/src)";
  if (url.includes("/bench/src/")) return "benchmark harness (bench/src)";
  if (url.startsWith("node:")) return "Node.js internals (node:*)";
  if (url.includes("/node_modules/")) return "dependencies (node_modules)";
  if (url === "") {
    if (name === "(garbage collector)") return "garbage collector";
    if (name === "(idle)") return "idle";
    return "V8 / native (program, builtins)";
  }
  return "other";
}

export function formatSummary(summary: ProfileSummary, top = 25): string {
  const lines: string[] = [];
  const ms = (m: number) => `${m.toFixed(0).padStart(7)} ms`;
  const pct = (s: number) => `${(s * 100).toFixed(1).padStart(5)} %`;
  lines.push(`Sampled ${summary.totalMillis.toFixed(0)} ms.`, "", "Self time by area:");
  for (const a of summary.areas) lines.push(`  ${ms(a.millis)} ${pct(a.share)}  ${a.area}`);
  lines.push("", `Top ${top} functions by self time:`);
  for (const f of summary.functions.slice(0, top)) {
    lines.push(`  ${ms(f.selfMillis)} ${pct(f.share)}  ${f.name}  ${f.where}`);
  }
  for (const dir of ["packages/core/src", "packages/pg/src"]) {
    const mine = summary.functions.filter((f) => f.where.startsWith(`${dir}/`));
    if (mine.length === 0) continue;
    lines.push("", `Top ${top} functions in ${dir} by self time:`);
    for (const f of mine.slice(0, top)) {
      lines.push(`  ${ms(f.selfMillis)} ${pct(f.share)}  ${f.name}  ${f.where}`);
    }
  }
  lines.push("", "Node/V8 internals by the project function that called them (self time):");
  for (const f of summary.internalsByCaller.slice(0, 15)) {
    lines.push(`  ${ms(f.selfMillis)} ${pct(f.share)}  ${f.name}  ${f.where}`);
  }
  return `${lines.join("\n")}\n`;
}
