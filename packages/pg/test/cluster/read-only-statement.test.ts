import { describe, expect, it } from "vitest";
import { isProvablyReadOnly } from "../../src/index.js";

describe("isProvablyReadOnly: what the reader may send to a standby", () => {
  it.each([
    "select * from t where id = $1",
    "SELECT count(*), max(created_at) FROM orders o JOIN users u ON u.id = o.user_id",
    "with recent as (select * from t order by id desc limit 5) select * from recent",
    "with recursive r(n) as (select 1 union all select n + 1 from r where n < 3) select n from r",
    "select coalesce(sum(x), 0)::numeric(10, 2) as total from t",
    "select json_build_object('a', a) from t where b in (select b from u)",
    "values (1), (2)",
    "table t",
    "show search_path",
    "(select 1) union (select 2)",
    "select pg_catalog.now()",
    "select 'insert into t values (1)' as text -- update t set x = 1",
    "explain select * from t",
    "select 1; select 2",
  ])("%s: read-only", (text) => {
    expect(isProvablyReadOnly(text)).toBe(true);
  });

  it.each([
    ["a write", "insert into t values (1)"],
    ["a write CTE", "with x as (insert into t values (1) returning id) select * from x"],
    ["an UPDATE CTE", "with x as (update t set a = 1 returning *) select count(*) from x"],
    ["SELECT INTO", "select * into t2 from t"],
    ["a row lock", "select * from t for update"],
    ["a shared row lock", "select * from t for key share"],
    ["a sequence", "select nextval('s')"],
    ["a user's function", "select my_function(1)"],
    ["a qualified user's function", "select app.refresh_totals()"],
    ["a quoted function name", 'select "count"(*) from t'],
    ["EXPLAIN ANALYZE of a write", "explain analyze delete from t"],
    ["a second statement that writes", "select 1; delete from t"],
    ["a transaction", "begin"],
    ["SET", "set search_path = x"],
    ["an unterminated string", "select 'abc"],
    ["nothing", "   "],
    ["an advisory lock", "select pg_advisory_lock(1)"],
  ])("%s: not provably read-only", (_why, text) => {
    expect(isProvablyReadOnly(text)).toBe(false);
  });
});
