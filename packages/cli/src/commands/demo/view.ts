import type { Phase } from "./phases.js";
import type { DemoProgress, DemoResult, PoolFigures } from "./run.js";

/** What the demo prints while it runs: each phase's name as it starts, its events, progress. */
export interface LiveView {
  onPhase(phase: Phase, index: number, of: number, skipped: string | undefined): void;
  onEvent(atMillis: number, text: string): void;
  onProgress(progress: DemoProgress): void;
}

/** On a terminal the progress block is redrawn in place; otherwise a plain line per second. */
export function liveView(out: NodeJS.WriteStream): LiveView {
  let drawn = 0;
  let last: DemoProgress | undefined;
  let lastSecond = -1;
  const erase = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
  };
  const draw = (p: DemoProgress) => {
    const lines = p.subjects.map(
      (s) =>
        `    ${s.name.padEnd(24)} ${String(s.succeeded).padStart(6)} ok  ${String(s.failed).padStart(5)} failed  ${String(s.waiting).padStart(2)} waiting  ${String(s.sessionsLeaked).padStart(4)} sessions leaked`,
    );
    lines.unshift(`  ${seconds(p.elapsedMillis)}`);
    for (const line of lines) out.write(`${line}\n`);
    drawn = lines.length;
  };
  return {
    onPhase(phase, index, of, skipped) {
      if (out.isTTY) drawn = 0; // the last phase's block stays on screen
      last = undefined;
      lastSecond = -1;
      const head = `\n▶ Phase ${index + 1}/${of}: ${phase.title}`;
      out.write(
        skipped === undefined
          ? `${head}: ${phase.what}\n`
          : `${head}: skipped, because ${skipped}\n`,
      );
    },
    onEvent(atMillis, text) {
      if (out.isTTY) erase();
      out.write(`  [${seconds(atMillis)}] ${text}\n`);
      if (out.isTTY && last !== undefined) draw(last);
    },
    onProgress(p) {
      last = p;
      if (out.isTTY) {
        erase();
        draw(p);
        return;
      }
      const second = Math.floor(p.elapsedMillis / 1000);
      if (second === lastSecond) return;
      lastSecond = second;
      const parts = p.subjects.map(
        (s) => `${s.name}: ${s.succeeded} ok, ${s.failed} failed, ${s.waiting} waiting`,
      );
      out.write(`  [${seconds(p.elapsedMillis)}] ${parts.join(" | ")}\n`);
    },
  };
}

const columns = [
  "phase / pool",
  "requests",
  "failed",
  "hung > 5 s",
  "p99 latency",
  "time to recover",
  "sessions leaked",
  "'error' events",
];

/** The final side-by-side table, one block per phase, with its legend and verdict. */
export function formatResult(result: DemoResult): string {
  const rows: (string[] | string)[] = [];
  for (const phase of result.phases) {
    if (phase.skipped !== undefined) {
      rows.push(`${phase.title}: skipped (${phase.skipped})`);
      continue;
    }
    rows.push(`${phase.title}${faultSummary(phase.fault?.details ?? {})}`);
    for (const s of phase.subjects) rows.push(row(s, result.hangThresholdMillis));
  }
  const cells = rows.filter((r): r is string[] => Array.isArray(r));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join("  ");
  const where =
    result.database === "embedded" ? "the demo's own embedded PostgreSQL" : "DATABASE_URL's server";
  const out = [
    "",
    `${result.phases.filter((p) => p.skipped === undefined).length} phase(s) in ${seconds(result.durationMillis)} on ${where}. Every pool: max ${result.settings.poolMax}, ${result.settings.requestsPerSecondPerPool} requests/s arriving whatever happens to earlier ones, the same faults at the same moments.`,
    `Lifeguard: acquireTimeoutMillis ${result.settings.lifeguard.acquireTimeoutMillis}, leakDetectionThresholdMillis ${result.settings.lifeguard.leakDetectionThresholdMillis}, the rest default. Plain: ${result.settings.plain}.`,
    "",
    line(columns),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => (typeof r === "string" ? r : line(r))),
    "",
    "failed: requests that ended in an error. Queries running when their backend was killed or the server went down",
    "  fail in every pool; while the database is down, failing at once is the best a pool can do.",
    `hung > 5 s: requests that waited ${result.hangThresholdMillis / 1000} s or more, whether they ended later or never; their callers (an HTTP request, a job) hang too.`,
    "p99 latency: 99% of requests took at most this long (a hung request counts with what it had waited).",
    "time to recover: from the end of the fault (last kill, the cut, the database back, last leak) to the first",
    "  success after the last failed or hung request; never = not before the phase ended.",
    "sessions leaked: requests that found another request's set_config('app.tenant', ...) on their connection.",
    "'error' events: emitted by the pool when an idle connection dies. pg.Pool emits them whether or not anyone",
    "  listens, and an application without a listener crashes (node-postgres #1324). Lifeguard's are harmless: it",
    "  emits them only to listeners that exist, counts them in stats(), and has already replaced the connection.",
  ];
  const leakPhase = result.phases.find((p) => p.name === "leak");
  const reporters = (leakPhase?.subjects ?? []).filter((s) => s.leaksReported > 0);
  const first = reporters[0];
  if (first !== undefined) {
    const timeout = reporters.flatMap((s) => s.sampleErrors).find((e) => /Timed out/.test(e));
    out.push(
      "",
      `Leaked leases: Lifeguard reported ${reporters.map((s) => `${s.leaksReported} (${s.name})`).join(", ")}, each with the stack that took it, e.g.`,
      ...(first.leakReportStack ?? "").split("\n").map((frame) => `    ${frame}`),
      ...(timeout === undefined
        ? []
        : ["  and its requests fail at their deadline, saying why:", `    ${clip(timeout)}`]),
      "  Plain pg.Pool reports nothing: it shrinks until its requests wait forever.",
    );
  }
  // failures a pool could have avoided: the kills and the cut leave the server reachable
  const surprises = result.phases
    .filter((p) => p.name === "kills" || p.name === "network-cut")
    .flatMap((p) =>
      p.subjects
        .filter((s) => s.lifeguard && s.failed > s.killedMidQuery)
        .map((s) => `  ${p.title}, ${s.name}: ${s.sampleErrors.map(clip).join("; ")}`),
    );
  if (surprises.length > 0)
    out.push("", "Errors Lifeguard pools should not have seen:", ...surprises);
  out.push(
    "",
    result.lifeguardLostNothing
      ? "Lifeguard lost nothing: no hung request, no leaked session, no failure it could have avoided."
      : "Lifeguard LOST something: see the table above.",
    "",
  );
  return out.join("\n");
}

function row(s: PoolFigures, hangMillis: number): string[] {
  return [
    `  ${s.name}`,
    String(s.requests),
    String(s.failed),
    String(s.hung),
    s.p99LatencyMillis >= hangMillis ? `> ${hangMillis / 1000} s` : millis(s.p99LatencyMillis),
    s.timeToRecoverMillis === null ? "never" : millis(s.timeToRecoverMillis),
    String(s.sessionsLeaked),
    String(s.poolErrorEvents),
  ];
}

function faultSummary(details: Readonly<Record<string, number>>): string {
  const parts: string[] = [];
  const d = details;
  if (d["idleBackendsKilled"] !== undefined)
    parts.push(`${d["idleBackendsKilled"]} idle + ${d["busyBackendsKilled"]} busy backends killed`);
  if (d["connectionsSilenced"] !== undefined)
    parts.push(`${d["connectionsSilenced"]} connections silenced`);
  if (d["leaksPerPool"] !== undefined) parts.push(`${d["leaksPerPool"]} leases leaked per pool`);
  if (d["restartMillis"] !== undefined) parts.push(`down ${millis(d["restartMillis"])}`);
  if (d["downMillis"] !== undefined) parts.push(`down ${millis(d["downMillis"])}`);
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`;
}

function clip(text: string): string {
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

function millis(ms: number): string {
  if (ms >= 1000) return seconds(ms);
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
