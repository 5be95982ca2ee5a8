import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

const [command] = process.argv.slice(2);
if (command === "--version" || command === "-v") {
  process.stdout.write(`${pkg.version}\n`);
} else {
  process.stderr.write(
    `lifeguard ${pkg.version}\nusage: lifeguard --version\n(no commands are available in this version yet)\n`,
  );
  process.exitCode = command === undefined || command === "--help" ? 0 : 2;
}
