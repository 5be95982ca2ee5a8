/** A minimal reader of the Prometheus text exposition format, for assertions. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** `# TYPE` of each metric family. */
  readonly types: ReadonlyMap<string, string>;
  /** `# HELP` of each metric family. */
  readonly help: ReadonlyMap<string, string>;
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      types.set(name as string, type as string);
      continue;
    }
    if (line.startsWith("# HELP ")) {
      const rest = line.slice(7);
      const space = rest.indexOf(" ");
      help.set(rest.slice(0, space), rest.slice(space + 1));
      continue;
    }
    if (line.startsWith("#")) continue;
    const match = sampleLine.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(labelPair)) {
      labels[key as string] = (value as string).replace(/\\(.)/g, "$1");
    }
    const raw = match[3] as string;
    const value = raw === "+Inf" ? Number.POSITIVE_INFINITY : Number(raw);
    samples.push({ name: match[1] as string, labels, value });
  }
  return { samples, types, help };
}

/** The one sample with this name and (at least) these labels; throws when there is not exactly one. */
export function sample(
  exposition: Exposition,
  name: string,
  labels: Readonly<Record<string, string>>,
): number {
  const found = exposition.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) {
    throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  }
  return (found[0] as Sample).value;
}

/** Cumulative bucket counts (`le` → count) of one histogram series. */
export function buckets(
  exposition: Exposition,
  name: string,
  labels: Readonly<Record<string, string>>,
): Map<string, number> {
  const result = new Map<string, number>();
  for (const s of exposition.samples) {
    if (s.name !== `${name}_bucket`) continue;
    if (!Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
    result.set(s.labels["le"] as string, s.value);
  }
  return result;
}
