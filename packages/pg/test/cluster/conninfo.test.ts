/**
 * The multi-host parser against libpq's behaviour.
 *
 * Reference: libpq 15.20 (Debian 15.20-0+deb12u1). Every string in the `libpq agrees` tables below
 * was run through a throw-away C program (PQconninfoParse for the raw keyword values, then
 * PQconnectdb against closed ports and missing socket directories, whose error lists each
 * host:port libpq tried, with PGPORT=9 so that an unset port is visible) and the expected hosts
 * are what libpq tried, in order, with libpq's own defaults swapped for pg's (empty host entry →
 * "localhost" instead of the socket directory). The error cases are the ones libpq refuses too
 * (its message quoted beside each). load_balance_hosts is PostgreSQL 16's, unknown to libpq 15:
 * its values follow the PostgreSQL 16 documentation. docs/cluster-conninfo.md lists the
 * deliberate differences. The C program is not run here: CI has no libpq headers.
 */
import { InvalidOptionError } from "@lifeguard/core";
import { describe, expect, it } from "vitest";
import { clusterHostConfig, isMultiHost, parseClusterConfig } from "../../src/cluster/conninfo.js";

const hostsOf = (input: Parameters<typeof parseClusterConfig>[0], env = {}) =>
  parseClusterConfig(input, { env }).hosts.map((h) =>
    h.hostaddr === undefined ? `${h.host}:${h.port}` : `${h.host}=${h.hostaddr}:${h.port}`,
  );

describe("parseClusterConfig: libpq agrees", () => {
  it.each([
    ["postgres://u:p@h1:5432,h2:5433/db", ["h1:5432", "h2:5433"]],
    ["postgresql://127.0.0.1:1,127.0.0.1:2/db", ["127.0.0.1:1", "127.0.0.1:2"]],
    // an empty port entry is the compiled-in default, not PGPORT
    ["postgresql://127.0.0.1,127.0.0.1:2/db", ["127.0.0.1:5432", "127.0.0.1:2"]],
    ["postgresql://[::1]:1,127.0.0.1/db", ["::1:1", "127.0.0.1:5432"]],
    ["postgresql://[::1],[::1]:2/db", ["::1:5432", "::1:2"]],
    ["postgresql://%2Ftmp%2Fnope,127.0.0.1:3/db", ["/tmp/nope:5432", "127.0.0.1:3"]],
    // decoding comes after the join: an encoded comma separates hosts, as in libpq
    ["postgres://%2Ftmp%2Fa%2C%2Ftmp%2Fb:1/db", ["/tmp/a:1", "/tmp/b:1"]],
    ["postgres://h1,h2", ["h1:5432", "h2:5432"]],
    ["postgres://,h2:5/", ["localhost:5432", "h2:5"]],
    ["postgres://u@/tmp/x", ["localhost:5432"]],
    // query parameters replace what the netloc set
    ["postgresql://a:1,b:2/db?host=127.0.0.1&port=4", ["127.0.0.1:4"]],
    ["postgres://?host=/tmp/q&port=3", ["/tmp/q:3"]],
    ["host=127.0.0.1,127.0.0.1 port=1", ["127.0.0.1:1", "127.0.0.1:1"]],
    ["host=127.0.0.1,,127.0.0.1 port=1,2,3", ["127.0.0.1:1", "localhost:2", "127.0.0.1:3"]],
    ["host=/tmp/nope,/tmp/nope port=,2", ["/tmp/nope:5432", "/tmp/nope:2"]],
    ["host=/tmp/a,/tmp/b, port=1", ["/tmp/a:1", "/tmp/b:1", "localhost:1"]],
    ["host=/tmp/a port=' 7 '", ["/tmp/a:7"]],
    ["host = '/tmp/a,/tmp/b' port= 1 dbname='a b\\'c'", ["/tmp/a:1", "/tmp/b:1"]],
    // with hostaddr, an empty host name is the address
    ["hostaddr=127.0.0.1,127.0.0.1 host=,x port=1,2", ["127.0.0.1=127.0.0.1:1", "x=127.0.0.1:2"]],
  ])("%s", (input, expected) => {
    expect(hostsOf(input)).toEqual(expected);
  });

  it("takes an unset host and port from PGHOST and PGPORT, lists included", () => {
    expect(hostsOf("port=1,2", { PGHOST: "/tmp/a,/tmp/b" })).toEqual(["/tmp/a:1", "/tmp/b:2"]);
    expect(hostsOf("dbname=x", { PGHOST: "/tmp/a,/tmp/b", PGPORT: "5,6" })).toEqual([
      "/tmp/a:5",
      "/tmp/b:6",
    ]);
    expect(hostsOf("host=/tmp/nope,/tmp/nope", { PGPORT: "9" })).toEqual([
      "/tmp/nope:9",
      "/tmp/nope:9",
    ]);
    expect(() =>
      parseClusterConfig("host=/tmp/a", { env: { PGTARGETSESSIONATTRS: "foo" } }),
    ).toThrow(/PGTARGETSESSIONATTRS.*expected one of any, read-write/);
  });

  it("reads user, password, database and parameters percent-decoded", () => {
    const config = parseClusterConfig(
      "postgresql://u:p:q@[::1]:3/d%20b?application_name=x%26y&target_session_attrs=read-write",
    );
    expect(config.hosts).toEqual([{ host: "::1", port: 3 }]);
    expect(config.targetSessionAttrs).toBe("read-write");
    expect(config.rest).toEqual({
      user: "u",
      password: "p:q",
      database: "d b",
      application_name: "x&y",
    });
    expect(parseClusterConfig("postgresql://u:p%40ss@h/db").rest.password).toBe("p@ss");
    expect(parseClusterConfig("host=h dbname='a b\\'c'").rest.database).toBe("a b'c");
  });

  it.each([
    // libpq: could not match 3 port numbers to 2 hosts
    ["host=127.0.0.1,127.0.0.1 port=1,2,3", "connectionString", /3 ports .* for 2 hosts/],
    // libpq: could not match 2 port numbers to 1 hosts
    ["postgresql://u:p@h1:5432,h2:5433/db?host=h3", "connectionString", /2 ports .* for 1 hosts/],
    // libpq: could not match 1 host names to 2 hostaddr values
    ["hostaddr=127.0.0.1,127.0.0.1 host=x port=1,2", "connectionString", /1 host names for 2/],
    ["postgres://h1:1,h2/db?hostaddr=127.0.0.1", "connectionString", /2 host names for 1/],
    // libpq: invalid target_session_attrs value: "bogus" (and "", and "Read-Write")
    [
      "host=a,b target_session_attrs=bogus",
      "connectionString",
      /expected one of any, read-write, read-only, primary, standby, prefer-standby; got "bogus"/,
    ],
    ["host=a target_session_attrs=", "connectionString", /got ""/],
    ["host=a target_session_attrs=Read-Write", "connectionString", /got "Read-Write"/],
    ["host=a load_balance_hosts=Random", "connectionString", /one of disable, random/],
    // libpq: invalid integer value "x" for connection option "port"
    ["postgresql://127.0.0.1:x/db", "connectionString", /integers from 1 to 65535.*"x"/],
    // libpq: invalid port number: "70000"
    ["postgresql://127.0.0.1:70000/db", "connectionString", /"70000"/],
    // libpq: end of string reached when looking for matching "]"
    ["postgres://[::1/", "connectionString", /without a closing "\]"/],
    // libpq: IPv6 host address may not be empty in URI
    ["postgres://[]/", "connectionString", /is empty/],
    // libpq: unexpected character "x" at position 17 in URI
    ["postgres://[::1]x/", "connectionString", /unexpected "x"/],
    // libpq: missing key/value separator "=" in URI query parameter
    ["postgresql://h/db?a", "connectionString", /has no "="/],
    // libpq: extra key/value separator "=" in URI query parameter
    ["postgresql://h/db?a=b=c", "connectionString", /second "="/],
    // libpq: missing "=" after "h2" in connection info string
    ["host=h1, h2", "connectionString", /missing "=" after "h2"/],
    // libpq: unterminated quoted string in connection info string
    ["host='h1", "connectionString", /never closed/],
    // libpq: could not parse network address (at connect)
    ["hostaddr=db.example.com", "connectionString", /numeric IP addresses/],
  ])("refuses %s", (input, option, message) => {
    let caught: unknown;
    try {
      parseClusterConfig(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidOptionError);
    expect((caught as InvalidOptionError).code).toBe("LIFEGUARD_INVALID_OPTION");
    expect((caught as InvalidOptionError).option).toBe(option);
    expect((caught as Error).message).toMatch(message);
  });
});

describe("parseClusterConfig: the password never shows", () => {
  const secret = "Sup3rSecret";
  it.each([
    // libpq itself quotes the bad token, password included: "invalid percent-encoded token"
    `postgresql://u:${secret}%zz@h/db`,
    `postgresql://u:${secret}%00@h/db`,
    `postgresql://u:${secret}@h1:x,h2/db`,
    `postgresql://u:${secret}@[::1/db`,
    `postgresql://u:${secret}@h/db?a`,
    `postgresql://u:${secret}@h/db?password=${secret}&target_session_attrs=nope`,
    `postgresql://u:${secret}@a@h/db`,
    `host=h password=${secret} port=1,2,3 dbname`,
    `host=h password='${secret}`,
    `postgres://u:${secret}@h:1,h:2,h:3/db?port=1,2`,
  ])("%s", (input) => {
    let caught: unknown;
    try {
      parseClusterConfig(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidOptionError);
    expect(String((caught as Error).message)).not.toContain(secret);
    expect(String((caught as Error).stack)).not.toContain(secret);
  });
});

describe("parseClusterConfig: pg-style config objects", () => {
  it("reads host and port lists, both spellings of the libpq options, and keeps the rest", () => {
    const config = parseClusterConfig({
      host: "h1,h2",
      port: "5432,5433",
      targetSessionAttrs: "prefer-standby",
      load_balance_hosts: "random",
      user: "app",
      password: "pw",
      database: "db",
      application_name: "svc",
    });
    expect(config).toEqual({
      hosts: [
        { host: "h1", port: 5432 },
        { host: "h2", port: 5433 },
      ],
      targetSessionAttrs: "prefer-standby",
      loadBalanceHosts: "random",
      rest: { user: "app", password: "pw", database: "db", application_name: "svc" },
    });
    expect(hostsOf({ host: "h1,h2,h3", port: 6432 })).toEqual(["h1:6432", "h2:6432", "h3:6432"]);
  });

  it("defaults: one host, any, disable; the defaults can be given", () => {
    expect(parseClusterConfig({})).toEqual({
      hosts: [{ host: "localhost", port: 5432 }],
      targetSessionAttrs: "any",
      loadBalanceHosts: "disable",
      rest: {},
    });
    expect(
      parseClusterConfig("host=,b", { defaultHost: "/var/run/postgresql", defaultPort: 6543 })
        .hosts,
    ).toEqual([
      { host: "/var/run/postgresql", port: 6543 },
      { host: "b", port: 6543 },
    ]);
  });

  it("refuses both spellings with different values, and names the one the caller wrote", () => {
    expect(() =>
      parseClusterConfig({ target_session_attrs: "primary", targetSessionAttrs: "standby" }),
    ).toThrow(/"targetSessionAttrs": "target_session_attrs" is also given/);
    let caught: unknown;
    try {
      parseClusterConfig({ loadBalanceHosts: "shuffle" });
    } catch (error) {
      caught = error;
    }
    expect((caught as InvalidOptionError).option).toBe("loadBalanceHosts");
    expect((caught as Error).message).toBe(
      'Invalid option "loadBalanceHosts": expected one of disable, random; got "shuffle".',
    );
    expect(() => parseClusterConfig({ host: "a,b", port: "1,2,3" })).toThrow(
      /"port": 3 ports \("port"\) for 2 hosts/,
    );
    expect(() => parseClusterConfig({ host: "a", port: 0 })).toThrow(/"port"/);
  });

  it("a connection string wins; with a URI the object's host and port are not used (as in pg)", () => {
    const config = parseClusterConfig({
      connectionString: "postgres://u@h1:1,h2:2/db?target_session_attrs=read-only",
      host: "ignored",
      port: 9,
      targetSessionAttrs: "primary",
      loadBalanceHosts: "random",
      user: "other",
      statement_timeout: 1000,
    });
    expect(hostsOf({ connectionString: "postgres:///db", host: "ignored" })).toEqual([
      "localhost:5432",
    ]);
    expect(config.hosts).toEqual([
      { host: "h1", port: 1 },
      { host: "h2", port: 2 },
    ]);
    expect(config.targetSessionAttrs).toBe("read-only");
    expect(config.loadBalanceHosts).toBe("random");
    expect(config.rest).toEqual({ user: "u", database: "db", statement_timeout: 1000 });
    // the keyword/value form sets only what it names
    expect(hostsOf({ connectionString: "dbname=x", host: "a,b", port: 7 })).toEqual(["a:7", "b:7"]);
  });

  it("passes the other parameters through pg's own parser: sslmode means to pg what it always did", () => {
    const { rest } = parseClusterConfig(
      "host=h1,h2 sslmode=no-verify application_name=svc options='-c search_path=x'",
    );
    expect(rest).toMatchObject({
      ssl: { rejectUnauthorized: false },
      application_name: "svc",
      options: "-c search_path=x",
    });
    expect(parseClusterConfig("postgres://h1,h2/db?ssl=true").rest.ssl).toBe(true);
    expect(parseClusterConfig("postgres://h1,h2/db?sslmode=disable").rest.ssl).toBe(false);
  });

  it("reads pg's own single-host forms with pg's parser", () => {
    expect(hostsOf("socket:/var/run/postgresql?db=app")).toEqual(["/var/run/postgresql:5432"]);
    expect(parseClusterConfig("socket:/var/run/postgresql?db=app").rest.database).toBe("app");
  });
});

describe("isMultiHost and clusterHostConfig", () => {
  it("isMultiHost is true for two hosts or more, in any form", () => {
    expect(isMultiHost("postgres://h1,h2/db")).toBe(true);
    expect(isMultiHost({ host: "h1,h2" })).toBe(true);
    expect(isMultiHost("host=h1 port=1")).toBe(false);
    expect(isMultiHost("postgres://u:p@h1:5432/db?target_session_attrs=read-write")).toBe(false);
    expect(isMultiHost({ host: "h1" })).toBe(false);
  });

  it("one host's pg config: rest, the host (or its hostaddr) and the port; TLS names the host", () => {
    const config = parseClusterConfig(
      "host=db1.internal,db2.internal hostaddr=10.0.0.1, port=5432 user=app sslmode=no-verify",
    );
    const [first, second] = config.hosts;
    expect(clusterHostConfig(config, first as never)).toEqual({
      user: "app",
      host: "10.0.0.1",
      port: 5432,
      ssl: { rejectUnauthorized: false, servername: "db1.internal" },
      sslmode: "no-verify",
    });
    expect(clusterHostConfig(config, second as never)).toEqual({
      user: "app",
      host: "db2.internal",
      port: 5432,
      ssl: { rejectUnauthorized: false },
      sslmode: "no-verify",
    });
  });
});
