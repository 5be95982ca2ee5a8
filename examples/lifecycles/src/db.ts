// The module a dev server re-runs on every edit. Pool.shared keeps one pool across the runs.
import { Pool } from "@lifeguard/pg";

const state = globalThis as { runs?: number };
state.runs = (state.runs ?? 0) + 1;

export const pool = Pool.shared({
  connectionString: process.env["DATABASE_URL"],
  application_name: "example-hot-reload",
  max: 2,
});
