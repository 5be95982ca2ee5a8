import { lex, statementsOf } from "./sql-lexer.js";
import { classifyStatement } from "./statement-classifier.js";

/**
 * Whether a `pool.query()` may share a connection with other callers' queries (pipelineQueries,
 * docs/pipelining.md):
 *
 * - `"clean"`: it leaves nothing in the session and runs no user code;
 * - `"userCode"`: it leaves nothing the classifier can see but may run functions, triggers or
 *   views; it may share a connection only where the server reports `search_path` changes
 *   (PostgreSQL 18 and later), the same rule reset `'auto'` applies;
 * - `"never"`: transactions, session statements, anything the classifier cannot prove clean, COPY,
 *   cursors, procedures, and query forms that keep the connection across round trips.
 * @internal
 */
export type PipelineEligibility = "clean" | "userCode" | "never";

/**
 * Statements that are one autocommit unit and answer with one result: reads and DML. Transaction
 * control, COPY, LOCK, cursors (FETCH, MOVE, CLOSE), CALL (a procedure can COMMIT) and everything
 * else stay on a connection of their own.
 */
const pipelinableKeywords = new Set([
  "select",
  "insert",
  "update",
  "delete",
  "merge",
  "with",
  "values",
  "table",
  "show",
]);

const cache = new Map<string, PipelineEligibility>();
const CACHE_LIMIT = 1000;

/** The eligibility of a `pool.query()` call's first argument (a string or a config object). @internal */
export function pipelineEligibility(config: unknown): PipelineEligibility {
  let text: unknown = config;
  if (typeof config !== "string") {
    if (config === null || typeof config !== "object") return "never";
    const record = config as {
      text?: unknown;
      submit?: unknown;
      rows?: unknown;
      query_timeout?: unknown;
      callback?: unknown;
    };
    // a Submittable keeps its own protocol; `rows` pages through a portal; a read timeout in
    // pipeline mode destroys the connection, with every query on it
    if (
      record.submit !== undefined ||
      record.rows !== undefined ||
      record.query_timeout !== undefined ||
      record.callback !== undefined
    )
      return "never";
    text = record.text;
  }
  if (typeof text !== "string") return "never";
  const cached = cache.get(text);
  if (cached !== undefined) return cached;
  const eligibility = eligibilityOf(text);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, eligibility);
  return eligibility;
}

function eligibilityOf(text: string): PipelineEligibility {
  const effect = classifyStatement(text);
  if (effect.dirty) return "never";
  const { tokens, incomplete } = lex(text);
  if (incomplete) return "never";
  const statements = statementsOf(tokens);
  if (statements.length === 0) return "never";
  for (const statement of statements) {
    let start = 0;
    while (statement[start]?.kind === "punct" && statement[start]?.value === "(") start++;
    const first = statement[start];
    if (first?.kind !== "word" || !pipelinableKeywords.has(first.value)) return "never";
  }
  return effect.mayRunUserCode ? "userCode" : "clean";
}
