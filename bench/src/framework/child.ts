/**
 * A contender's own process (suites are isolated by default): the parent runner sends "measure
 * case X for d ms" and gets the sample back, so contenders never share a heap, JIT feedback or
 * timers, while the parent still alternates them round by round.
 */
import { suites } from "../suites/index.js";
import { collectGarbage } from "./gc.js";
import type { ChildRequest, ChildResponse } from "./isolation.js";

const [suiteName, contenderId] = process.argv.slice(2);
const suite = suites.find((s) => s.name === suiteName);
const contender = suite?.contenders.find((c) => c.id === contenderId);
if (suite === undefined || contender === undefined || process.send === undefined) {
  throw new Error(`bench child: unknown suite/contender ${suiteName}/${contenderId}, or no IPC`);
}

function reply(message: ChildResponse): void {
  process.send?.(message);
}

process.on("message", (message: ChildRequest) => {
  if (message.type === "exit") {
    process.exit(0);
  }
  const c = suite.cases.find((x) => x.id === message.caseId);
  if (c === undefined) {
    reply({ type: "error", message: `unknown case ${message.caseId}` });
    return;
  }
  collectGarbage();
  contender.run(c.params, message.context).then(
    (sample) => reply({ type: "sample", sample }),
    (error: unknown) =>
      reply({
        type: "error",
        message: error instanceof Error ? (error.stack ?? error.message) : String(error),
      }),
  );
});
reply({ type: "ready" });
