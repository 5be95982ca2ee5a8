import { readFileSync } from "node:fs";
import ts from "typescript";

/**
 * The marker: a fenced block whose info string is `ts smoke` (or `js smoke`) is a complete program
 * that the packed-package smoke test runs, as an ES module and as CommonJS. GitHub highlights it
 * by the first word.
 */
export const SMOKE_FENCE = "```ts smoke";
const smokeFences = new Set([SMOKE_FENCE, "```js smoke"]);

export interface Example {
  /** Short name for files and messages: the package folder and the block's number ("knex-1"). */
  readonly id: string;
  /** The package folder under packages/ this example belongs to. */
  readonly packageDir: string;
  /** Where the block is, for messages ("packages/knex/README.md:14"). */
  readonly origin: string;
  readonly source: string;
}

/** Every `ts smoke` block of a markdown file, in order. */
export function extractExamples(file: string, shownPath: string, packageDir: string): Example[] {
  const lines = readFileSync(file, "utf8").split("\n");
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!smokeFences.has(lines[i]?.trim() ?? "")) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]?.trim() !== "```") end++;
    if (end === lines.length)
      throw new Error(`${shownPath}:${i + 1}: the smoke block is never closed`);
    examples.push({
      id: `${packageDir}-${examples.length + 1}`,
      packageDir,
      origin: `${shownPath}:${i + 1}`,
      source: lines.slice(start, end).join("\n"),
    });
    i = end;
  }
  return examples;
}

const base: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022, // Node 20
  esModuleInterop: true,
  sourceMap: false,
};

/** The example as a TypeScript user compiling to ESM would run it (top-level await and all). */
export function toEsm(example: Example): string {
  return header(example, "an ES module") + transpile(example, example.source, ts.ModuleKind.ESNext);
}

/** The example as a TypeScript user compiling to CommonJS would run it (see commonJsSource). */
export function toCommonJs(example: Example): string {
  return (
    header(example, "CommonJS") +
    transpile(example, commonJsSource(example), ts.ModuleKind.CommonJS)
  );
}

/**
 * The example's TypeScript as a CommonJS program: CommonJS has no top-level await, so everything
 * after the imports runs in an async main(), as such a program is written.
 */
export function commonJsSource(example: Example): string {
  const file = ts.createSourceFile("example.ts", example.source, ts.ScriptTarget.ES2022, true);
  let bodyStart = 0;
  for (const statement of file.statements) {
    if (!ts.isImportDeclaration(statement)) break;
    bodyStart = statement.end;
  }
  const imports = example.source.slice(0, bodyStart);
  const body = example.source.slice(bodyStart);
  return `${imports}\nasync function main() {${body}\n}\nmain().catch((error) => {\n  console.error(error);\n  process.exitCode = 1;\n});\n`;
}

function header(example: Example, form: string): string {
  return `// ${example.origin}, compiled to ${form} by scripts/smoke-packed\n`;
}

/** The TypeScript the type check reads: `<id>.mts` (an ES module) and `<id>.cts` (CommonJS). */
export function typeScriptSources(example: Example): { mts: string; cts: string } {
  const origin = `// ${example.origin}\n`;
  return { mts: origin + example.source, cts: origin + commonJsSource(example) };
}

/** Transpiles TypeScript to JavaScript (also used for the generated Prisma client). */
export function transpile(
  example: Pick<Example, "origin">,
  source: string,
  module: ts.ModuleKind,
): string {
  const output = ts.transpileModule(source, {
    compilerOptions: { ...base, module },
    fileName: "example.ts",
    reportDiagnostics: true,
  });
  const problems = output.diagnostics ?? [];
  if (problems.length > 0) {
    const text = problems
      .map((problem) => ts.flattenDiagnosticMessageText(problem.messageText, "\n"))
      .join("\n  ");
    throw new Error(`${example.origin}: not valid TypeScript:\n  ${text}`);
  }
  return output.outputText;
}
