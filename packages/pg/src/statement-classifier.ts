/** What running one SQL text can leave behind in the session. */
export interface StatementEffect {
  /** The session may now differ from a fresh one (SET, LISTEN, temp tables, advisory locks, ...). */
  readonly dirty: boolean;
  /**
   * Server-side prepared statements this text deallocates: `"all"` (DISCARD ALL, DEALLOCATE ALL),
   * the names of the ones it drops, or nothing.
   */
  readonly deallocates: "all" | readonly string[] | undefined;
  /**
   * What kind of session state it leaves, for warnings: `"SET"`, `"LISTEN"`, `"temp table"`,
   * `"advisory lock"`, `"set_config"`, ... (the first one seen). Undefined when clean.
   */
  readonly kind: string | undefined;
}

const CLEAN: StatementEffect = Object.freeze({
  dirty: false,
  deallocates: undefined,
  kind: undefined,
});

/**
 * Statements that leave no session state behind: plain DML, reads, and transaction control (the
 * transaction's own state is handled by ROLLBACK, not by the reset).
 */
const cleanKeywords = new Set([
  "SELECT",
  "INSERT",
  "UPDATE",
  "DELETE",
  "MERGE",
  "WITH",
  "VALUES",
  "TABLE",
  "BEGIN",
  "START",
  "COMMIT",
  "END",
  "ROLLBACK",
  "ABORT",
  "SAVEPOINT",
  "RELEASE",
  "SHOW",
  "EXPLAIN",
  "COPY",
  "LOCK",
  "CALL",
  "FETCH",
  "MOVE",
  "CLOSE",
  "NOTIFY",
  "TRUNCATE",
]);

/** Calls and words inside otherwise clean statements that change the session. */
const sessionFunctions =
  /\bset_config\s*\(|\bpg_(?:try_)?advisory_lock(?:_shared)?\s*\(|\btemp(?:orary)?\b|\bdblink_connect(?:_u)?\s*\(/i;

const cache = new Map<string, StatementEffect>();
const CACHE_LIMIT = 1000;

/**
 * Classifies SQL text by what it may leave in the session, for reset `'auto'`. Conservative:
 * anything not known to be clean counts as dirty. Results are cached by text, since applications
 * and ORMs repeat the same texts.
 */
export function classifyStatement(text: string): StatementEffect {
  const cached = cache.get(text);
  if (cached !== undefined) return cached;
  const effect = classifyUncached(text);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, effect);
  return effect;
}

function classifyUncached(text: string): StatementEffect {
  let kind: string | undefined;
  let deallocatesAll = false;
  const names: string[] = [];
  for (const statement of splitStatements(text)) {
    const words = leadingWords(statement, 3);
    const first = words[0];
    if (first === undefined) continue;
    if (first === "DISCARD") {
      kind ??= "DISCARD";
      if (words[1] === "ALL") deallocatesAll = true;
      continue;
    }
    if (first === "DEALLOCATE") {
      kind ??= "DEALLOCATE";
      const target = words[1] === "PREPARE" ? words[2] : words[1];
      if (target === "ALL") deallocatesAll = true;
      else {
        const name = statementName(statement);
        if (name !== undefined) names.push(name);
      }
      continue;
    }
    if (transactionScoped(first, words[1], statement)) continue;
    const call = sessionCall(statement);
    if (!cleanKeywords.has(first)) kind ??= kindOf(first, words[1], call);
    else if (call !== undefined) kind ??= kindOf(undefined, undefined, call);
  }
  if (kind === undefined) return CLEAN;
  const deallocates = deallocatesAll ? "all" : names.length > 0 ? Object.freeze(names) : undefined;
  return Object.freeze({ dirty: true, deallocates, kind });
}

/**
 * Statements whose effect ends with the transaction: `SET LOCAL`, `SET TRANSACTION`,
 * `SET CONSTRAINTS`, and temp tables created `ON COMMIT DROP`. Outside a transaction block they
 * last one statement.
 */
function transactionScoped(first: string, second: string | undefined, statement: string): boolean {
  if (first === "SET")
    return second === "LOCAL" || second === "TRANSACTION" || second === "CONSTRAINTS";
  return (
    first === "CREATE" &&
    (second === "TEMP" || second === "TEMPORARY") &&
    onCommitDrop.test(statement)
  );
}

const onCommitDrop = /\bon\s+commit\s+drop\b/i;
/** `set_config(name, value, true)`: is_local, so it ends with the transaction. */
const localSetConfig = /\bset_config\s*\((?:[^()]|\([^()]*\))*,\s*true\s*\)/gi;

/** The first session-changing call or word in a statement, skipping `set_config(..., true)`. */
function sessionCall(statement: string): string | undefined {
  const text = statement.replace(localSetConfig, "");
  return sessionFunctions.exec(text)?.[0];
}

/** A short name for what a statement leaves in the session. */
function kindOf(
  first: string | undefined,
  second: string | undefined,
  call: string | undefined,
): string {
  if (call !== undefined) {
    const lower = call.toLowerCase();
    if (lower.startsWith("set_config")) return "set_config";
    if (lower.includes("advisory")) return "advisory lock";
    if (lower.startsWith("temp")) return "temp table";
    return "dblink";
  }
  if (first === "CREATE" && (second === "TEMP" || second === "TEMPORARY")) return "temp table";
  return first ?? "statement";
}

/** Splits on top-level semicolons, skipping quotes, dollar quotes and comments. */
export function splitStatements(text: string): string[] {
  if (!text.includes(";")) return [text];
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === "'" || c === '"') {
      i = skipQuoted(text, i, c);
    } else if (c === "-" && text[i + 1] === "-") {
      const end = text.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (c === "/" && text[i + 1] === "*") {
      i = skipBlockComment(text, i);
    } else if (c === "$") {
      const tag = /^\$[A-Za-z_]?[A-Za-z0-9_]*\$/.exec(text.slice(i, i + 64))?.[0];
      if (tag === undefined) i++;
      else {
        const end = text.indexOf(tag, i + tag.length);
        i = end === -1 ? n : end + tag.length;
      }
    } else if (c === ";") {
      out.push(text.slice(start, i));
      i++;
      start = i;
    } else i++;
  }
  out.push(text.slice(start));
  return out;
}

function skipQuoted(text: string, i: number, quote: string): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === quote) {
      if (text[j + 1] === quote) j++;
      else return j + 1;
    }
  }
  return text.length;
}

function skipBlockComment(text: string, i: number): number {
  let depth = 0;
  for (let j = i; j < text.length - 1; j++) {
    if (text[j] === "/" && text[j + 1] === "*") {
      depth++;
      j++;
    } else if (text[j] === "*" && text[j + 1] === "/") {
      depth--;
      j++;
      if (depth === 0) return j + 1;
    }
  }
  return text.length;
}

/** The first `count` keywords of a statement, upper-cased, after whitespace and comments. */
function leadingWords(statement: string, count: number): string[] {
  const words: string[] = [];
  let i = 0;
  const n = statement.length;
  while (i < n && words.length < count) {
    const c = statement[i] as string;
    if (c === "-" && statement[i + 1] === "-") {
      const end = statement.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (c === "/" && statement[i + 1] === "*") {
      i = skipBlockComment(statement, i);
    } else if (/\s|\(/.test(c)) {
      i++;
    } else {
      const match = /^[A-Za-z_]+/.exec(statement.slice(i, i + 40));
      if (match === null) break;
      words.push(match[0].toUpperCase());
      i += match[0].length;
    }
  }
  return words;
}

/** The statement name in `DEALLOCATE [PREPARE] name`, unquoted. */
function statementName(statement: string): string | undefined {
  const match = /deallocate\s+(?:prepare\s+)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)/i.exec(
    statement,
  );
  const raw = match?.[1];
  if (raw === undefined) return undefined;
  // unquoted identifiers fold to lower case in PostgreSQL; pg's cache key is the name as sent
  return raw.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw.toLowerCase();
}
