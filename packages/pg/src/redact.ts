/**
 * Replaces every occurrence of a secret in an error's message and stack, keeping the error's class
 * and fields (a pg `DatabaseError` stays one, with its SQLSTATE). Secrets shorter than 4
 * characters are skipped: blanking them would mangle ordinary words.
 * @internal
 */
export function redactError<E>(error: E, secrets: readonly (string | undefined)[]): E {
  if (error === null || typeof error !== "object") return error;
  const usable = secrets.filter((s): s is string => typeof s === "string" && s.length >= 4);
  if (usable.length === 0) return error;
  const record = error as { message?: unknown; stack?: unknown };
  for (const key of ["message", "stack"] as const) {
    const text = record[key];
    if (typeof text !== "string") continue;
    let clean = text;
    for (const secret of usable) {
      clean = clean.replaceAll(secret, "***").replaceAll(encodeURIComponent(secret), "***");
    }
    if (clean !== text) {
      try {
        record[key] = clean;
      } catch {
        // read-only message: leave it (pg's own errors never are)
      }
    }
  }
  return error;
}

/**
 * The password part of a connection string, if any, as pg will send it: percent-decoded, or as
 * written when it does not decode (a raw `%`, which pg accepts). A string `new URL()` refuses is
 * searched by hand, so its password is hidden too. @internal
 */
export function passwordInUrl(connectionString: string | undefined): string | undefined {
  if (typeof connectionString !== "string") return undefined;
  let raw: string | undefined;
  try {
    raw = new URL(connectionString).password;
  } catch {
    raw = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:(.*)@[^@]*$/i.exec(connectionString)?.[1];
  }
  if (raw === undefined || raw === "") return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
