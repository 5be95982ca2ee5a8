import type { DemoProgress, DemoResult } from "./run.js";

const columns = [
  "pool",
  "queries",
  "errors",
  "killed mid-query",
  "sessions leaked",
  "'error' events",
  "queries/s",
  "p99 wait",
];

/** The live view: redrawn in place on a terminal, a plain line per second otherwise. */
export function progressPrinter(out: NodeJS.WriteStream): (progress: DemoProgress) => void {
  let drawn = 0;
  let lastPlain = -1;
  return (p) => {
    if (!out.isTTY) {
      const second = Math.floor(p.elapsedMillis / 1000);
      if (second === lastPlain) return;
      lastPlain = second;
      const parts = p.subjects.map(
        (s) => `${s.name}: ${s.queries} ok, ${s.errors} err, ${s.sessionsLeaked} leaked`,
      );
      out.write(
        `[${second}s] killed idle ${p.chaos.idleKilled}, busy ${p.chaos.busyKilled} | ${parts.join(" | ")}\n`,
      );
      return;
    }
    const width = 30;
    const done = Math.round((p.elapsedMillis / p.durationMillis) * width);
    const lines = [
      `[${"#".repeat(done)}${".".repeat(width - done)}] ${(p.elapsedMillis / 1000).toFixed(1)}s / ${(p.durationMillis / 1000).toFixed(0)}s   backends killed: ${p.chaos.idleKilled} idle, ${p.chaos.busyKilled} busy`,
      ...p.subjects.map(
        (s) =>
          `  ${s.name.padEnd(24)} ${String(s.queries).padStart(7)} ok  ${String(s.errors).padStart(4)} errors  ${String(s.killedInFlight).padStart(3)} killed  ${String(s.sessionsLeaked).padStart(4)} leaked  pool ${s.pool.total}/${s.pool.idle} idle`,
      ),
    ];
    if (drawn > 0) out.write(`\x1b[${drawn}A`);
    for (const line of lines) out.write(`\x1b[2K${line}\n`);
    drawn = lines.length;
  };
}

/** The final side-by-side table. */
export function formatResult(result: DemoResult): string {
  const rows = result.subjects.map((s) => [
    s.name,
    String(s.queries),
    String(s.errors),
    String(s.killedInFlight),
    String(s.sessionsLeaked),
    String(s.poolErrorEvents),
    s.queriesPerSecond.toFixed(0),
    `${s.p99WaitMillis.toFixed(1)} ms`,
  ]);
  const widths = columns.map((c, i) =>
    Math.max(c.length, ...rows.map((r) => (r[i] as string).length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join("  ");
  const out = [
    "",
    `${(result.durationMillis / 1000).toFixed(1)} s, ${result.chaos.idleKilled} idle (≥ 100 ms) and ${result.chaos.busyKilled} busy backends killed`,
    "",
    line(columns),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
    "errors: failures that reached the application for any reason other than its own query being killed",
    "killed mid-query: queries running when their backend was terminated — unavoidable, the same for every pool",
    "sessions leaked: requests that found another request's set_config('app.tenant', ...) on their connection",
    "'error' events: emitted by the pool itself; pg.Pool's kill an application that has no listener",
    "",
  ];
  for (const s of result.subjects) {
    if (s.sampleErrors.length > 0) out.push(`${s.name} errors, e.g.: ${s.sampleErrors.join("; ")}`);
  }
  out.push(
    result.lifeguardLostNothing
      ? "Lifeguard lost nothing."
      : "Lifeguard LOST something: see the table above.",
    "",
  );
  return out.join("\n");
}
