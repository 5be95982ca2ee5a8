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

/** The password part of a connection string, if any. @internal */
export function passwordInUrl(connectionString: string | undefined): string | undefined {
  if (connectionString === undefined) return undefined;
  try {
    const password = new URL(connectionString).password;
    return password === "" ? undefined : decodeURIComponent(password);
  } catch {
    return undefined;
  }
}
