/** `LISTEN name` / `LISTEN "Name"` anywhere in a statement's text. */
const listenPattern =
  /(?<![\w$])listen\s+("(?:[^"]|"")+"|[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*)/gi;

/**
 * The channels a statement may subscribe to, as PostgreSQL names them in notifications (unquoted
 * names fold to lower case). Text that only looks like a LISTEN (inside a string literal) adds a
 * channel no notification arrives on: harmless, since the set only lets notifications through.
 * @internal
 */
export function listenedChannels(text: string): string[] {
  const channels: string[] = [];
  for (const match of text.matchAll(listenPattern)) {
    const name = match[1] as string;
    channels.push(
      name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name.toLowerCase(),
    );
  }
  return channels;
}
