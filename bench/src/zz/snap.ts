import { writeHeapSnapshot } from "node:v8";
import { Pool } from "@lifeguard/pg";
import pg from "pg";
const url = "postgres://postgres@127.0.0.1:5432/test";
const N = 50;
const mode = process.argv[2];
const gc = (globalThis as any).gc as () => void;
let keep: any;
if (mode === "pg") { keep = []; for (let i = 0; i < N; i++) { const c = new pg.Client(url); await c.connect(); keep.push(c); } }
else { keep = new Pool({ connectionString: url, max: N, min: N }); const cs = await Promise.all(Array.from({ length: N }, () => keep.connect())); for (const c of cs) c.release(); }
await new Promise(r => setTimeout(r, 100)); gc(); gc();
writeHeapSnapshot(`/tmp/gp/${mode}.heapsnapshot`);
if (mode === "pg") for (const c of keep) await c.end(); else await keep.end();
