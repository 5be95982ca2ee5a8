import { type LexOptions, lex, statementsOf, type Token } from "./sql-lexer.js";

/** What running one SQL text can leave behind in the session. */
export interface StatementEffect {
  /** The session may now differ from a fresh one (SET, LISTEN, temp tables, advisory locks, ...). */
  readonly dirty: boolean;
  /**
   * The text may run code the classifier cannot read: a function, procedure, trigger, view or rule
   * (anything but transaction control, SHOW and the like). Code like that can change the session
   * out of sight; the pool treats it as dirty where the server would not report the change
   * (`search_path` before PostgreSQL 18, see docs/pg.md).
   */
  readonly mayRunUserCode: boolean;
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

export interface ClassifyOptions {
  /**
   * The session's `standard_conforming_strings` (default on, PostgreSQL's default): when off,
   * backslashes escape quotes in plain '...' strings, which changes where they end.
   */
  readonly standardConformingStrings?: boolean;
}

/**
 * Statements that leave no session state behind: plain DML, reads, and transaction control (the
 * transaction's own state is handled by ROLLBACK, not by the reset).
 */
const cleanKeywords = new Set([
  "select",
  "insert",
  "update",
  "delete",
  "merge",
  "with",
  "values",
  "table",
  "begin",
  "start",
  "commit",
  "end",
  "rollback",
  "abort",
  "savepoint",
  "release",
  "show",
  "explain",
  "copy",
  "lock",
  "call",
  "fetch",
  "move",
  "close",
  "notify",
  "truncate",
]);

/**
 * Statements that run no user-defined code (functions, triggers, views, rules). COMMIT can fire
 * deferred triggers, but only ones queued by earlier statements of the same lease, which count.
 */
const noUserCode = new Set([
  "begin",
  "start",
  "commit",
  "end",
  "rollback",
  "abort",
  "savepoint",
  "release",
  "show",
  "set",
  "reset",
  "discard",
  "deallocate",
  "listen",
  "unlisten",
]);

/** Functions that change the session when called, by name (qualified or quoted, any case). */
const sessionFunctions = new Map([
  ["set_config", "set_config"],
  ["pg_advisory_lock", "advisory lock"],
  ["pg_advisory_lock_shared", "advisory lock"],
  ["pg_try_advisory_lock", "advisory lock"],
  ["pg_try_advisory_lock_shared", "advisory lock"],
  ["dblink_connect", "dblink"],
  ["dblink_connect_u", "dblink"],
]);

/** Words that create session-lifetime objects: temp tables, views, sequences (`pg_temp.x` too). */
const tempWords = new Set(["temp", "temporary", "pg_temp"]);

const CLEAN: StatementEffect = Object.freeze({
  dirty: false,
  mayRunUserCode: false,
  deallocates: undefined,
  kind: undefined,
});

const caches = {
  standard: new Map<string, StatementEffect>(),
  backslash: new Map<string, StatementEffect>(),
};
const CACHE_LIMIT = 1000;

/**
 * Classifies SQL text by what it may leave in the session, for reset `'auto'`. It reads the text
 * with a tokenizer faithful to PostgreSQL's (strings of every kind, dollar quotes, quoted
 * identifiers, nested comments, several statements), so nothing inside a literal or a comment
 * counts and nothing outside one hides. Conservative: anything not known to be clean is dirty.
 * Results are cached by text, since applications and ORMs repeat the same texts.
 */
export function classifyStatement(text: string, options: ClassifyOptions = {}): StatementEffect {
  const cache = options.standardConformingStrings === false ? caches.backslash : caches.standard;
  const cached = cache.get(text);
  if (cached !== undefined) return cached;
  const effect = classifyUncached(text, options);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, effect);
  return effect;
}

function classifyUncached(text: string, options: LexOptions): StatementEffect {
  const { tokens, incomplete } = lex(text, options);
  // the server rejects the whole text; should it not, we could not tell what it does
  let kind: string | undefined = incomplete ? "unparsed statement" : undefined;
  let userCode = incomplete;
  let deallocatesAll = false;
  const names: string[] = [];
  for (const statement of statementsOf(tokens)) {
    const effect = classifyOne(statement);
    kind ??= effect.kind;
    userCode ||= effect.userCode;
    if (effect.deallocates === "all") deallocatesAll = true;
    else if (effect.deallocates !== undefined) names.push(effect.deallocates);
  }
  if (kind === undefined) return userCode ? USER_CODE : CLEAN;
  const deallocates = deallocatesAll ? "all" : names.length > 0 ? Object.freeze(names) : undefined;
  return Object.freeze({ dirty: true, mayRunUserCode: userCode, deallocates, kind });
}

const USER_CODE: StatementEffect = Object.freeze({ ...CLEAN, mayRunUserCode: true });

interface OneEffect {
  kind: string | undefined;
  userCode: boolean;
  /** "all", one statement name, or undefined. */
  deallocates: string | undefined;
}

function classifyOne(tokens: readonly Token[]): OneEffect {
  // `(select ...)`: a parenthesized query starts with its parentheses
  let start = 0;
  while (tokens[start]?.kind === "punct" && tokens[start]?.value === "(") start++;
  const first = word(tokens[start]);
  const second = word(tokens[start + 1]);
  const userCode = first === undefined || (!noUserCode.has(first) && !literalsOnly(tokens, start));
  const result = (kind: string | undefined, deallocates?: string): OneEffect => ({
    kind,
    userCode,
    deallocates,
  });

  if (first === "discard") return result("DISCARD", second === "all" ? "all" : undefined);
  if (first === "deallocate") {
    const at = second === "prepare" ? start + 2 : start + 1;
    const target = tokens[at];
    if (target?.kind === "word" && target.value === "all") return result("DEALLOCATE", "all");
    // unquoted names fold to lower case; pg's cache key is the name as sent, which the lexer keeps
    const name = target?.kind === "word" || target?.kind === "quoted" ? target.value : undefined;
    return result("DEALLOCATE", name);
  }
  if (first === "set") {
    // SET LOCAL, SET TRANSACTION, SET CONSTRAINTS end with the transaction (their values are
    // literals or names, never calls)
    if (second === "local" || second === "transaction" || second === "constraints")
      return result(undefined);
    return result("SET");
  }

  let body = start;
  if (first === "create" && temporaryTableDroppedOnCommit(tokens, start)) {
    // its own TEMP word is transaction-scoped here; the rest (AS SELECT ...) still counts
    body = tokens.findIndex((t, k) => k > start && t.kind === "word" && tempWords.has(t.value)) + 1;
  } else if (first === undefined || !cleanKeywords.has(first)) {
    const found = sessionStateIn(tokens, start + 1);
    if (first === "create" && (second === "temp" || second === "temporary"))
      return result("temp table");
    return result(found ?? (first === undefined ? "statement" : first.toUpperCase()));
  }
  return result(sessionStateIn(tokens, body));
}

/**
 * `SELECT 1`, `SELECT 'ok' AS status, 2`: a select list of bare literals runs no user code (a cast,
 * an operator, a parameter's type or a function could: a domain's CHECK, an operator in a schema
 * ahead of pg_catalog). Health checks are often this.
 */
function literalsOnly(tokens: readonly Token[], start: number): boolean {
  if (start !== 0 || word(tokens[0]) !== "select" || tokens.length < 2) return false;
  let expectValue = true;
  for (let k = 1; k < tokens.length; k++) {
    const t = tokens[k] as Token;
    if (expectValue) {
      if (t.kind !== "number" && t.kind !== "string") return false;
      expectValue = false;
      if (word(tokens[k + 1]) === "as") {
        const alias = tokens[k + 2];
        if (alias?.kind !== "word" && alias?.kind !== "quoted") return false;
        k += 2;
      }
    } else if (t.kind === "punct" && t.value === ",") expectValue = true;
    else return false;
  }
  return !expectValue;
}

/**
 * `CREATE [GLOBAL | LOCAL] { TEMP | TEMPORARY } TABLE ... ON COMMIT DROP`, the ON COMMIT clause
 * outside any parentheses: a temp table that ends with the transaction.
 */
function temporaryTableDroppedOnCommit(tokens: readonly Token[], start: number): boolean {
  let k = start + 1;
  const scope = word(tokens[k]);
  if (scope === "global" || scope === "local") k++;
  const temp = word(tokens[k]);
  if (temp !== "temp" && temp !== "temporary") return false;
  if (word(tokens[k + 1]) !== "table") return false;
  let depth = 0;
  for (let j = k + 2; j < tokens.length; j++) {
    const t = tokens[j] as Token;
    if (t.kind === "punct") {
      if (t.value === "(") depth++;
      else if (t.value === ")") depth--;
    } else if (depth === 0 && t.kind === "word") {
      // ON COMMIT comes before AS <query>: an ON COMMIT DROP after AS belongs to something else
      if (t.value === "as") return false;
      if (t.value === "on" && word(tokens[j + 1]) === "commit" && word(tokens[j + 2]) === "drop")
        return true;
    }
  }
  return false;
}

/**
 * The first session-changing call or word in a statement from `from` on: a session function
 * (by any name form: `pg_catalog.set_config`, `"pg_advisory_lock"`), except
 * `set_config(name, value, true)` which ends with the transaction, or a TEMP word.
 */
function sessionStateIn(tokens: readonly Token[], from: number): string | undefined {
  for (let k = from; k < tokens.length; k++) {
    const t = tokens[k] as Token;
    if (t.kind !== "word" && t.kind !== "quoted") continue;
    const name = t.kind === "word" ? t.value : asciiLower(t.value);
    const kind = sessionFunctions.get(name);
    if (kind !== undefined) {
      if (name === "set_config" && isLocalSetConfig(tokens, k)) continue;
      return kind;
    }
    if (t.kind === "word" && tempWords.has(name)) return "temp table";
    // a quoted pg_temp as a schema qualifier is the temp schema all the same
    if (t.kind === "quoted" && name === "pg_temp" && tokens[k + 1]?.value === ".")
      return "temp table";
  }
  return undefined;
}

/** `set_config(a, b, true)` at `k`: exactly three arguments, the third the word `true`. */
function isLocalSetConfig(tokens: readonly Token[], k: number): boolean {
  if (tokens[k + 1]?.value !== "(" || tokens[k + 1]?.kind !== "punct") return false;
  let depth = 0;
  let commas = 0;
  let third: Token[] = [];
  for (let j = k + 1; j < tokens.length; j++) {
    const t = tokens[j] as Token;
    if (t.kind === "punct" && (t.value === "(" || t.value === "[")) {
      depth++;
      if (depth === 1) continue;
    } else if (t.kind === "punct" && (t.value === ")" || t.value === "]")) {
      depth--;
      if (depth === 0) {
        return commas === 2 && third.length === 1 && word(third[0]) === "true";
      }
    } else if (depth === 1 && t.kind === "punct" && t.value === ",") {
      commas++;
      continue;
    }
    if (commas === 2) third.push(t);
    if (commas > 2) third = [];
  }
  return false;
}

function word(token: Token | undefined): string | undefined {
  return token?.kind === "word" ? token.value : undefined;
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}
