import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { collectGarbage } from "./gc.js";
import type { AnySuite, Contender, RunContext, Sample } from "./types.js";

export type ChildRequest =
  | { type: "run"; caseId: string; context: RunContext<unknown> }
  | { type: "exit" };
export type ChildResponse =
  | { type: "ready" }
  | { type: "sample"; sample: Sample }
  | { type: "error"; message: string };

/** Runs one contender's samples, in this process or in a child process of its own. */
export interface Executor {
  run(caseId: string, context: RunContext<unknown>): Promise<Sample>;
  close(): Promise<void>;
}

export function inProcessExecutor(
  suite: AnySuite,
  contender: Contender<unknown, unknown>,
): Executor {
  return {
    run(caseId, context) {
      const c = suite.cases.find((x) => x.id === caseId);
      if (c === undefined) return Promise.reject(new Error(`unknown case ${caseId}`));
      collectGarbage();
      return contender.run(c.params, context);
    },
    close: () => Promise.resolve(),
  };
}

const childEntry = fileURLToPath(new URL("./child.ts", import.meta.url));

/**
 * Forks `child.ts` for one contender (same Node, TypeScript through tsx, the `@lifeguard/source`
 * condition, `--expose-gc`). The child stays up for the whole suite and runs one sample per
 * request, so it warms up once and keeps its JIT state between rounds, like an in-process run.
 */
export async function childExecutor(suite: AnySuite, contenderId: string): Promise<Executor> {
  const child: ChildProcess = fork(childEntry, [suite.name, contenderId], {
    execArgv: [
      "--conditions=@lifeguard/source",
      "--import",
      import.meta.resolve("tsx"),
      "--expose-gc",
      ...(suite.execArgv ?? []),
    ],
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let pending: { resolve: (m: ChildResponse) => void; reject: (e: Error) => void } | undefined;
  let exited: Error | undefined;
  child.on("message", (message: ChildResponse) => {
    const p = pending;
    pending = undefined;
    p?.resolve(message);
  });
  child.on("exit", (code, signal) => {
    exited = new Error(
      `benchmark child for ${suite.name}/${contenderId} exited (code ${code}, signal ${signal})`,
    );
    const p = pending;
    pending = undefined;
    p?.reject(exited);
  });
  const next = () =>
    new Promise<ChildResponse>((resolve, reject) => {
      if (exited !== undefined) reject(exited);
      else pending = { resolve, reject };
    });

  const first = await next();
  if (first.type !== "ready")
    throw new Error(`benchmark child did not start: ${JSON.stringify(first)}`);
  return {
    async run(caseId, context) {
      const answer = next();
      child.send({ type: "run", caseId, context } satisfies ChildRequest);
      const message = await answer;
      if (message.type === "sample") return message.sample;
      if (message.type === "error") {
        throw new Error(
          `${suite.name}/${contenderId} failed in its child process:\n${message.message}`,
        );
      }
      throw new Error(`unexpected message from benchmark child: ${JSON.stringify(message)}`);
    },
    async close() {
      if (exited !== undefined) return;
      const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.send({ type: "exit" } satisfies ChildRequest);
      await done;
    },
  };
}
