import { InvalidOptionError } from "@lifeguard/core";

/** The two prefixes libpq reads as a URI (case-sensitive, as in libpq). */
const uriPrefixes = ["postgresql://", "postgres://"] as const;

/** Length of the libpq URI prefix `input` starts with, or 0. */
export function uriPrefixLength(input: string): number {
  for (const prefix of uriPrefixes) if (input.startsWith(prefix)) return prefix.length;
  return 0;
}

function uriError(message: string): InvalidOptionError {
  // never the URI itself: it may carry the password
  return new InvalidOptionError(
    "connectionString",
    `Invalid option "connectionString": ${message}`,
  );
}

/**
 * libpq's percent-decoding (`conninfo_uri_decode`): `%XX` is a byte, anything else after `%` is an
 * error, and `%00` is refused. Bytes are read as UTF-8. `part` names what is decoded, for the error
 * (never the text itself: it may be the password).
 */
export function percentDecode(text: string, part: string): string {
  if (!text.includes("%")) return text;
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c !== "%") {
      // one UTF-16 unit at a time would split surrogate pairs: take the whole code point
      const cp = text.codePointAt(i) as number;
      const char = String.fromCodePoint(cp);
      bytes.push(...encoder.encode(char));
      i += char.length - 1;
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
      throw uriError(
        `invalid percent-encoding in the ${part}: "%" must be followed by two hexadecimal digits. Percent-encode a literal "%" as %25 (encodeURIComponent).`,
      );
    }
    const byte = Number.parseInt(hex, 16);
    if (byte === 0) throw uriError(`the ${part} contains %00, which libpq refuses.`);
    bytes.push(byte);
    i += 2;
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** What a libpq URI sets, each value percent-decoded; host and port keep libpq's comma lists. */
export interface UriParts {
  /** libpq keyword → value, in the order libpq stores them (query parameters last, overriding). */
  readonly values: Map<string, string>;
}

/**
 * Reads `postgresql://[user[:password]@][host][:port][,...][/dbname][?param=value&...]` exactly as
 * libpq's `conninfo_uri_parse_options` does: the user part ends at the first `@` before any `/`;
 * a host is a name, an IPv4 address or a bracketed IPv6 address, optionally followed by `:port`;
 * hosts are separated by commas and joined (with their ports) into libpq's comma lists before
 * percent-decoding; a query parameter replaces what the netloc set (`?host=` overrides the hosts).
 * Deviation (stricter): a second `@` in the host part is refused; libpq would take it as part of a
 * host name, pg's URL parser as part of the password.
 */
export function parseUri(input: string): UriParts {
  const values = new Map<string, string>();
  const prefix = uriPrefixLength(input);
  let p = prefix;
  const n = input.length;

  // user credentials: look ahead for "@" before any "/"
  let q = p;
  while (q < n && input[q] !== "@" && input[q] !== "/") q++;
  if (input[q] === "@") {
    const userInfo = input.slice(p, q);
    const colon = userInfo.indexOf(":");
    const user = colon === -1 ? userInfo : userInfo.slice(0, colon);
    if (user !== "") values.set("user", percentDecode(user, "user name"));
    if (colon !== -1) {
      const password = userInfo.slice(colon + 1);
      if (password !== "") values.set("password", percentDecode(password, "password"));
    }
    p = q + 1;
  }

  const hosts: string[] = [];
  const ports: string[] = [];
  let anyPort = false;
  let terminator = "";
  for (;;) {
    let host: string;
    if (input[p] === "[") {
      const close = input.indexOf("]", p + 1);
      if (close === -1) {
        throw uriError(
          'an IPv6 host address opens "[" without a closing "]". Write postgres://user@[::1]:5432/db.',
        );
      }
      host = input.slice(p + 1, close);
      if (host === "") throw uriError('an IPv6 host address "[]" is empty.');
      p = close + 1;
      const next = input[p];
      if (next !== undefined && next !== ":" && next !== "/" && next !== "?" && next !== ",") {
        throw uriError(
          `unexpected ${JSON.stringify(next)} after the IPv6 host address [${host}] (expected ":port", ",", "/" or "?").`,
        );
      }
    } else {
      const start = p;
      while (p < n && !":/?,".includes(input[p] as string)) p++;
      host = input.slice(start, p);
    }
    if (host.includes("@")) {
      throw uriError(
        'a host contains "@": percent-encode "@" in the user name and password as %40 (encodeURIComponent).',
      );
    }
    hosts.push(host);
    terminator = input[p] ?? "";
    let port = "";
    if (terminator === ":") {
      const start = ++p;
      while (p < n && !"/?,".includes(input[p] as string)) p++;
      port = input.slice(start, p);
      anyPort = true;
      terminator = input[p] ?? "";
    }
    ports.push(port);
    if (terminator !== ",") break;
    p++;
  }
  // libpq stores the lists only when they are not empty (one host with no name, no port: neither)
  const hostList = hosts.join(",");
  const portList = anyPort || hosts.length > 1 ? ports.join(",") : "";
  if (hostList !== "") values.set("host", percentDecode(hostList, "host"));
  if (portList !== "") values.set("port", percentDecode(portList, "port"));

  if (terminator === "/") {
    const start = ++p;
    while (p < n && input[p] !== "?") p++;
    const dbname = input.slice(start, p);
    // an empty name would force the default (the user name) instead of PGDATABASE: libpq skips it
    if (dbname !== "") values.set("dbname", percentDecode(dbname, "database name"));
    terminator = input[p] ?? "";
  }
  if (terminator === "?") parseQuery(input.slice(p + 1), values);
  return { values };
}

function parseQuery(query: string, values: Map<string, string>): void {
  if (query === "") return;
  for (const param of query.split("&")) {
    const eq = param.indexOf("=");
    if (eq === -1) {
      throw uriError(
        `a query parameter has no "=" (write ?keyword=value&keyword=value; percent-encode "&" and "=" inside a value).`,
      );
    }
    const rawKey = param.slice(0, eq);
    const key = percentDecode(rawKey, "query parameter name");
    if (param.indexOf("=", eq + 1) !== -1) {
      throw uriError(
        `the query parameter ${JSON.stringify(key)} has a second "=": percent-encode "=" in a value as %3D.`,
      );
    }
    values.set(key, percentDecode(param.slice(eq + 1), `value of "${key}"`));
  }
}
