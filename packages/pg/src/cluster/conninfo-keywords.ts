import { InvalidOptionError } from "@lifeguard/core";

/** libpq's `isspace()` in the C locale: what separates keyword/value pairs. */
function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\v" || c === "\f" || c === "\r";
}

/**
 * Splits a libpq keyword/value connection string (`host=h1,h2 port=5432 dbname='my db'`) into its
 * pairs, by libpq's own rules (`conninfo_parse` in fe-connect.c): whitespace around `=` is
 * allowed, a value is either bare (ends at whitespace) or single-quoted, and a backslash takes the
 * next character literally in both. A later pair with the same keyword replaces the earlier one.
 * Errors never quote a value: one of them may be the password.
 */
export function parseKeywordValue(input: string): Map<string, string> {
  const pairs = new Map<string, string>();
  let i = 0;
  const n = input.length;
  while (i < n) {
    while (i < n && isSpace(input[i])) i++;
    if (i >= n) break;
    const keywordStart = i;
    while (i < n && input[i] !== "=" && !isSpace(input[i])) i++;
    const keyword = input.slice(keywordStart, i);
    while (i < n && isSpace(input[i])) i++;
    if (input[i] !== "=") {
      throw new InvalidOptionError(
        "connectionString",
        `Invalid option "connectionString": missing "=" after ${JSON.stringify(keyword)} in the keyword/value connection string. Write keyword=value pairs separated by spaces (host=h1,h2 port=5432 dbname=app), and quote a value with spaces in single quotes.`,
      );
    }
    i++;
    while (i < n && isSpace(input[i])) i++;
    let value = "";
    if (input[i] === "'") {
      i++;
      for (;;) {
        if (i >= n) {
          throw new InvalidOptionError(
            "connectionString",
            `Invalid option "connectionString": the value of ${JSON.stringify(keyword)} opens a single quote that is never closed. Close it, and write a quote inside a value as \\'.`,
          );
        }
        const c = input[i] as string;
        if (c === "\\") {
          i++;
          if (i < n) value += input[i++];
        } else if (c === "'") {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
    } else {
      while (i < n && !isSpace(input[i])) {
        if (input[i] === "\\") {
          i++;
          if (i < n) value += input[i++];
        } else {
          value += input[i++];
        }
      }
    }
    pairs.set(keyword, value);
  }
  return pairs;
}
