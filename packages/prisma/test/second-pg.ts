import { createRequire } from "node:module";

type Pg = typeof import("pg");

/**
 * A second, separate copy of the `pg` package, as an application gets when two packages need pg
 * versions that cannot share one install: same code, different classes (`instanceof` fails
 * across the copies). Loaded with Node's require and an emptied module cache; the cache is put
 * back afterwards, so everything else keeps getting the first copy.
 */
export function loadSecondCopyOfPg(): Pg {
  const require = createRequire(import.meta.url);
  require("pg"); // the first copy is loaded and cached
  const isPg = (file: string) => /[\\/]node_modules[\\/]pg(-pool)?[\\/]/.test(file);
  const first = Object.entries(require.cache).filter(([file]) => isPg(file));
  for (const [file] of first) delete require.cache[file];
  try {
    return require("pg") as Pg;
  } finally {
    for (const file of Object.keys(require.cache)) if (isPg(file)) delete require.cache[file];
    for (const [file, module] of first) require.cache[file] = module;
  }
}
