/** A command line the user can fix: exit code 2, the message, then the usage. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const commandUsage = {
  demo: `  lifeguard demo [--quick] [--scenario <name>] [--prisma <generated client module>] [--json]
                                            one workload through Lifeguard (pg, Drizzle, Knex, and
                                            Prisma with --prisma) and plain pg.Pool, side by side,
                                            through five faults: backend kills, a silent network
                                            cut, leaked leases, a database restart under load, the
                                            database down; ends with a table (embedded PostgreSQL
                                            unless DATABASE_URL is set, which skips restart and down)
      --quick                               every phase shorter: about 10 s of phases
      --scenario <name>                     one phase alone: kills, network-cut, leak, restart, down
      --json                                every figure as JSON, nothing else on stdout
  lifeguard demo --failover [--quick] [--json]
                                            a primary and a streaming standby (embedded): writes
                                            and reads through a Lifeguard Cluster and through
                                            pg.Pools, the primary crashes, the standby is promoted
`,
  doctor: `  lifeguard doctor [url] [--instances N] [--json]
                                            server limits, connections by application, timeouts
                                            that interact with a pool, a recommended max;
                                            with several hosts (postgres://h1,h2/db or
                                            host=h1,h2), each host's role and replay lag
`,
  advise: `  lifeguard advise --rate <leases/s> --hold-ms <ms> [--instances N] [--cores C] [--spindles S] [--json]
                                            pool size from Little's law and (cores × 2) + spindles
`,
} as const;

export type CommandName = keyof typeof commandUsage;

export function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(commandUsage, name);
}

/** The usage of one subcommand, or of all of them. */
export function usage(command?: CommandName): string {
  if (command !== undefined) return `usage:\n${commandUsage[command]}`;
  return `lifeguard — a PostgreSQL connection pool you can trust in production

usage:
${Object.values(commandUsage).join("")}  lifeguard <command> --help
  lifeguard --version
`;
}

/** True when the arguments ask for help (before any other validation). */
export function wantsHelp(args: readonly string[]): boolean {
  return args.includes("--help") || args.includes("-h");
}
