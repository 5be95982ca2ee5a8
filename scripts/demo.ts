// `pnpm demo`: `lifeguard demo` with Prisma too. Prisma needs a client generated from a schema;
// in this repository the test harness's schema is generated (offline, see test-fixtures/prisma)
// and handed to the command, whose workload is raw SQL so any generated client will do.
import { runDemoCommand } from "../packages/cli/src/commands/demo-command.js";
import { generatePrismaClient } from "../test-fixtures/prisma/index.js";

const args = process.argv.slice(2);
if (!args.includes("--prisma") && !args.includes("--help") && !args.includes("-h")) {
  process.stdout.write(
    "Generating the Prisma client for the demo (cached after the first run)...\n",
  );
  args.push("--prisma", await generatePrismaClient());
}
const code = await runDemoCommand(args);
// as `lifeguard demo` does: pools still closing after the servers are gone are not waited for
process.stdout.write("", () => process.exit(code));
