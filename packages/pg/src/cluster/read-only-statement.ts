import { lex, statementsOf, type Token } from "../sql-lexer.js";

/**
 * Statements a reader may send to a standby: it can prove they write nothing. Anything else (a
 * write, a write in a CTE, `SELECT ... INTO`, a row lock, a call to a function it does not know to be
 * read-only, a sequence's `nextval`) is not provably read-only, and the reader sends it to the
 * writer instead. The proof is by what the text says: a view or a trigger that writes, or a
 * user-defined cast or operator, is out of its sight; a standby refuses such a write anyway
 * (SQLSTATE 25006), so nothing is ever written there.
 */
const readStarts = new Set(["select", "values", "table", "with", "show", "explain"]);

/** Words that make a statement a write wherever they appear outside literals. */
const writeWords = new Set(["insert", "update", "delete", "merge", "into", "truncate", "copy"]);

/** Key words a parenthesis may follow without a function being called. */
const parenKeywords = new Set([
  "in",
  "exists",
  "any",
  "all",
  "some",
  "values",
  "cast",
  "coalesce",
  "nullif",
  "greatest",
  "least",
  "over",
  "filter",
  "within",
  "using",
  "on",
  "as",
  "not",
  "and",
  "or",
  "from",
  "join",
  "lateral",
  "array",
  "row",
  "select",
  "where",
  "having",
  "by",
  "then",
  "else",
  "when",
  "case",
  "between",
  "like",
  "ilike",
  "is",
  "distinct",
  "with",
  "union",
  "intersect",
  "except",
  "limit",
  "offset",
  "interval",
  "extract",
  "position",
  "substring",
  "overlay",
  "trim",
  "rollup",
  "cube",
  "grouping",
  "sets",
  "tablesample",
  "partition",
  "rows",
  "range",
  "groups",
  "materialized",
  "recursive",
  "explain",
  "analyze",
  "verbose",
  "buffers",
  "format",
  "costs",
  "settings",
  "timing",
  "summary",
  "wal",
  "generic_plan",
  "serialize",
  "memory",
  "similar",
  "to",
  "escape",
  "collate",
  "only",
  "table",
  "lateral",
  "ordinality",
  "nulls",
  "first",
  "last",
  "asc",
  "desc",
  "fetch",
  "next",
  "ties",
  "ones",
  "zone",
  "at",
  "time",
  "timestamp",
  "date",
  "returning",
  "xmlelement",
  "xmlforest",
  "xmlattributes",
  "xmlagg",
  "xmlparse",
  "xmlserialize",
  "xmlroot",
  "xmlexists",
  "xmlconcat",
  "xmlpi",
  "json",
  "json_object",
  "json_array",
  "json_arrayagg",
  "json_objectagg",
  "json_scalar",
  "json_serialize",
  "json_exists",
  "json_query",
  "json_value",
  "json_table",
  "is_json",
  "normalize",
  "treat",
  "current_date",
  "current_time",
  "current_timestamp",
  "localtime",
  "localtimestamp",
  "precision",
  "varying",
  "character",
  "char",
  "varchar",
  "numeric",
  "decimal",
  "float",
  "bit",
  "nchar",
  "national",
  "ident",
]);

/** Built-in functions known to write nothing (aggregates, window functions, plain functions). */
const readOnlyFunctions = new Set([
  // aggregates and window functions
  "count",
  "sum",
  "avg",
  "min",
  "max",
  "array_agg",
  "string_agg",
  "json_agg",
  "jsonb_agg",
  "json_object_agg",
  "jsonb_object_agg",
  "bool_and",
  "bool_or",
  "every",
  "bit_and",
  "bit_or",
  "bit_xor",
  "stddev",
  "stddev_pop",
  "stddev_samp",
  "variance",
  "var_pop",
  "var_samp",
  "percentile_cont",
  "percentile_disc",
  "mode",
  "corr",
  "covar_pop",
  "covar_samp",
  "regr_slope",
  "row_number",
  "rank",
  "dense_rank",
  "percent_rank",
  "cume_dist",
  "ntile",
  "lag",
  "lead",
  "first_value",
  "last_value",
  "nth_value",
  "any_value",
  "range_agg",
  // time
  "now",
  "clock_timestamp",
  "statement_timestamp",
  "transaction_timestamp",
  "timeofday",
  "date_trunc",
  "date_part",
  "date_bin",
  "age",
  "to_char",
  "to_date",
  "to_timestamp",
  "to_number",
  "make_date",
  "make_time",
  "make_interval",
  "make_timestamp",
  "make_timestamptz",
  "justify_days",
  "justify_hours",
  "justify_interval",
  "timezone",
  "isfinite",
  // strings
  "lower",
  "upper",
  "initcap",
  "length",
  "char_length",
  "character_length",
  "octet_length",
  "bit_length",
  "substr",
  "replace",
  "concat",
  "concat_ws",
  "left",
  "right",
  "lpad",
  "rpad",
  "ltrim",
  "rtrim",
  "btrim",
  "split_part",
  "strpos",
  "regexp_replace",
  "regexp_matches",
  "regexp_match",
  "regexp_like",
  "regexp_count",
  "regexp_instr",
  "regexp_substr",
  "regexp_split_to_array",
  "regexp_split_to_table",
  "md5",
  "sha256",
  "sha512",
  "format",
  "quote_ident",
  "quote_literal",
  "quote_nullable",
  "encode",
  "decode",
  "convert_from",
  "convert_to",
  "translate",
  "reverse",
  "repeat",
  "starts_with",
  "ascii",
  "chr",
  "unistr",
  "string_to_array",
  "array_to_string",
  "string_to_table",
  "to_hex",
  "casefold",
  // numbers
  "abs",
  "ceil",
  "ceiling",
  "floor",
  "round",
  "trunc",
  "mod",
  "power",
  "pow",
  "sqrt",
  "cbrt",
  "exp",
  "ln",
  "log",
  "log10",
  "sign",
  "div",
  "pi",
  "degrees",
  "radians",
  "sin",
  "cos",
  "tan",
  "asin",
  "acos",
  "atan",
  "atan2",
  "width_bucket",
  "random",
  "gcd",
  "lcm",
  "scale",
  "num_nonnulls",
  "num_nulls",
  "gen_random_uuid",
  "uuidv4",
  "uuidv7",
  // json and arrays
  "json_build_object",
  "jsonb_build_object",
  "json_build_array",
  "jsonb_build_array",
  "to_json",
  "to_jsonb",
  "row_to_json",
  "array_to_json",
  "json_array_elements",
  "jsonb_array_elements",
  "json_array_elements_text",
  "jsonb_array_elements_text",
  "json_array_length",
  "jsonb_array_length",
  "json_each",
  "jsonb_each",
  "json_each_text",
  "jsonb_each_text",
  "json_object_keys",
  "jsonb_object_keys",
  "jsonb_set",
  "jsonb_set_lax",
  "jsonb_insert",
  "json_extract_path",
  "jsonb_extract_path",
  "json_extract_path_text",
  "jsonb_extract_path_text",
  "json_typeof",
  "jsonb_typeof",
  "jsonb_strip_nulls",
  "json_strip_nulls",
  "jsonb_pretty",
  "jsonb_path_query",
  "jsonb_path_query_array",
  "jsonb_path_query_first",
  "jsonb_path_exists",
  "jsonb_path_match",
  "json_populate_record",
  "jsonb_populate_record",
  "json_populate_recordset",
  "jsonb_populate_recordset",
  "json_to_record",
  "jsonb_to_record",
  "json_to_recordset",
  "jsonb_to_recordset",
  "array_length",
  "array_lower",
  "array_upper",
  "array_ndims",
  "array_dims",
  "array_position",
  "array_positions",
  "array_remove",
  "array_replace",
  "array_append",
  "array_prepend",
  "array_cat",
  "array_fill",
  "cardinality",
  "unnest",
  "generate_series",
  "generate_subscripts",
  "trim_array",
  "array_sample",
  "array_shuffle",
  "array_reverse",
  "array_sort",
  // text search
  "to_tsvector",
  "to_tsquery",
  "plainto_tsquery",
  "phraseto_tsquery",
  "websearch_to_tsquery",
  "ts_rank",
  "ts_rank_cd",
  "ts_headline",
  "setweight",
  // catalog and server information
  "pg_is_in_recovery",
  "pg_last_xact_replay_timestamp",
  "pg_last_wal_replay_lsn",
  "pg_last_wal_receive_lsn",
  "pg_is_wal_replay_paused",
  "current_setting",
  "version",
  "pg_backend_pid",
  "current_database",
  "current_schema",
  "current_schemas",
  "has_table_privilege",
  "has_schema_privilege",
  "has_column_privilege",
  "has_database_privilege",
  "has_function_privilege",
  "pg_has_role",
  "pg_typeof",
  "format_type",
  "obj_description",
  "col_description",
  "pg_get_expr",
  "pg_get_indexdef",
  "pg_get_constraintdef",
  "pg_get_viewdef",
  "pg_get_functiondef",
  "pg_table_size",
  "pg_relation_size",
  "pg_total_relation_size",
  "pg_indexes_size",
  "pg_database_size",
  "pg_size_pretty",
  "to_regclass",
  "to_regtype",
  "to_regproc",
  "to_regnamespace",
  "pg_table_is_visible",
  "pg_postmaster_start_time",
  "pg_conf_load_time",
  "inet_server_addr",
  "inet_server_port",
  "pg_get_userbyid",
  "pg_encoding_to_char",
  "pg_column_size",
  "pg_sleep",
  "txid_snapshot_xmin",
  "pg_current_snapshot",
]);

const cache = new Map<string, boolean>();
const CACHE_LIMIT = 1000;

/**
 * Whether the reader may send `text` to a standby: every statement in it is a query that provably
 * writes nothing (see above). Conservative: false when in doubt. Cached by text.
 */
export function isProvablyReadOnly(text: string): boolean {
  const cached = cache.get(text);
  if (cached !== undefined) return cached;
  const result = classify(text);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, result);
  return result;
}

function classify(text: string): boolean {
  const { tokens, incomplete } = lex(text);
  if (incomplete) return false;
  const statements = statementsOf(tokens);
  if (statements.length === 0) return false;
  return statements.every(readOnlyStatement);
}

function readOnlyStatement(tokens: readonly Token[]): boolean {
  let start = 0;
  while (tokens[start]?.kind === "punct" && tokens[start]?.value === "(") start++;
  const first = word(tokens[start]);
  if (first === undefined || !readStarts.has(first)) return false;
  if (first === "show") return true;
  for (let k = start; k < tokens.length; k++) {
    const t = tokens[k] as Token;
    if (t.kind === "word") {
      if (writeWords.has(t.value)) return false;
      // row locks (FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE) need a primary
      if (t.value === "share" && (word(tokens[k - 1]) === "for" || word(tokens[k - 1]) === "key"))
        return false;
    }
    if ((t.kind === "word" || t.kind === "quoted") && isCall(tokens, k)) {
      if (!knownReadOnlyCall(tokens, k)) return false;
    }
  }
  return true;
}

/** A name followed by `(`: a call, unless it is a key word, a type (after `::` or AS) or a column list. */
function isCall(tokens: readonly Token[], k: number): boolean {
  const next = tokens[k + 1];
  if (next?.kind !== "punct" || next.value !== "(") return false;
  const t = tokens[k] as Token;
  const before = tokens[k - 1];
  if (t.kind === "word" && parenKeywords.has(t.value) && before?.value !== ".") return false;
  // a type's modifiers: ::numeric(10, 2), CAST(x AS varchar(10))
  if (before?.kind === "punct" && before.value === ":") return false;
  if (word(before) === "as" && t.kind === "word" && !readOnlyFunctions.has(t.value)) {
    // AS name( in a CTE or a column alias list: `with x(a) as (...)`, `as t(a, b)`
    return false;
  }
  // a CTE's column list: `with name(a, b) as (` / `, name(a) as (`
  if (word(before) === "with" || word(before) === "recursive") return false;
  return true;
}

function knownReadOnlyCall(tokens: readonly Token[], k: number): boolean {
  const t = tokens[k] as Token;
  const name = t.kind === "word" ? t.value : undefined;
  if (name === undefined) return false; // a quoted name: a user's function, by its spelling
  const dot = tokens[k - 1];
  if (dot?.kind === "punct" && dot.value === ".") {
    // schema-qualified: only pg_catalog's functions are the built-ins
    return word(tokens[k - 2]) === "pg_catalog" && readOnlyFunctions.has(name);
  }
  return readOnlyFunctions.has(name);
}

function word(token: Token | undefined): string | undefined {
  return token?.kind === "word" ? token.value : undefined;
}

/** Transaction control a reader's borrowed client may run on a standby (a read-only transaction). */
const transactionWords = new Set([
  "begin",
  "start",
  "commit",
  "end",
  "rollback",
  "abort",
  "savepoint",
  "release",
]);

/** `BEGIN`, `COMMIT`, `SAVEPOINT`, `SET TRANSACTION ...`, `SET LOCAL ...`: nothing here writes. */
export function isTransactionControl(text: string): boolean {
  const { tokens, incomplete } = lex(text);
  if (incomplete) return false;
  const statements = statementsOf(tokens);
  return (
    statements.length > 0 &&
    statements.every((statement) => {
      const first = word(statement[0]);
      if (first === undefined) return false;
      if (first === "set") {
        const second = word(statement[1]);
        return second === "transaction" || second === "local";
      }
      return transactionWords.has(first);
    })
  );
}
