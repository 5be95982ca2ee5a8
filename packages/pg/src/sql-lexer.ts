/**
 * A tokenizer that splits SQL text the way PostgreSQL's own scanner (src/backend/parser/scan.l)
 * does, as far as telling code from non-code goes: where strings, quoted identifiers, dollar quotes
 * and comments start and end, and which `;` separate statements. Literal values are not decoded:
 * the classifier only needs to know that something is a literal, never what it says.
 *
 * Where the server's scanner would raise an error (an unterminated string or comment), the text
 * does not run at all; the lexer reports `incomplete` and the classifier counts it as dirty anyway.
 */

export type TokenKind =
  /** An unquoted identifier or key word, folded to lower case like the server folds it. */
  | "word"
  /** A quoted identifier (`"..."`, `U&"..."`), its value without quotes. */
  | "quoted"
  /** A literal of any kind: '...', E'...', U&'...', B'...', X'...', N'...', $tag$...$tag$. */
  | "string"
  | "number"
  /** A parameter: `$1`. */
  | "param"
  /** `;`, which ends a statement. */
  | "semicolon"
  /** Any other single character: operators, parentheses, commas, dots. */
  | "punct";

export interface Token {
  readonly kind: TokenKind;
  /**
   * word: lower-cased; quoted: the identifier; punct: the character; number, param: the raw text;
   * string: empty (what a literal says never matters here, and copying it costs).
   */
  readonly value: string;
}

export interface LexResult {
  readonly tokens: readonly Token[];
  /** The text ends inside a string, quoted identifier, dollar quote or comment. */
  readonly incomplete: boolean;
}

export interface LexOptions {
  /**
   * The session's `standard_conforming_strings` (on unless a server or session turned it off):
   * when off, backslashes escape in plain '...' strings too, as in E'...'.
   */
  readonly standardConformingStrings?: boolean;
}

/** How a quoted literal treats what is inside it. */
enum Quote {
  /** '...', N'...', U&'...': only '' stands for a quote. */
  Standard,
  /** E'...': backslash escapes the next character too. */
  Escape,
  /** B'...', X'...': the first quote ends it. */
  Bits,
}

const NOT_FOUND = -1;

export function lex(text: string, options: LexOptions = {}): LexResult {
  const plainQuote = options.standardConformingStrings === false ? Quote.Escape : Quote.Standard;
  const tokens: Token[] = [];
  const n = text.length;
  let i = 0;
  const push = (kind: TokenKind, value: string) => tokens.push({ kind, value });
  const incomplete = () => ({ tokens, incomplete: true });

  while (i < n) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
    } else if (c === 0x2d /* - */ && text.charCodeAt(i + 1) === 0x2d) {
      i = lineEnd(text, i);
    } else if (c === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x2a /* * */) {
      i = blockCommentEnd(text, i);
      if (i === NOT_FOUND) return incomplete();
    } else if (c === 0x27 /* ' */) {
      const end = literalEnd(text, i + 1, plainQuote);
      if (end === NOT_FOUND) return incomplete();
      push("string", "");
      i = end;
    } else if (c === 0x22 /* " */) {
      const end = quotedIdentifierEnd(text, i + 1);
      if (end === NOT_FOUND) return incomplete();
      push("quoted", text.slice(i + 1, end - 1).replaceAll('""', '"'));
      i = end;
    } else if (isIdentStart(c)) {
      const next = text.charCodeAt(i + 1);
      const lower = c | 0x20;
      let prefixed: Quote | undefined;
      if (next === 0x27) {
        // E'...', B'...', X'...', N'...' (scan.l's xestart, xbstart, xhstart, xnstart)
        if (lower === 0x65 /* e */) prefixed = Quote.Escape;
        else if (lower === 0x62 /* b */ || lower === 0x78 /* x */) prefixed = Quote.Bits;
        else if (lower === 0x6e /* n */) prefixed = plainQuote;
      }
      if (prefixed !== undefined) {
        const end = literalEnd(text, i + 2, prefixed);
        if (end === NOT_FOUND) return incomplete();
        push("string", "");
        i = end;
      } else if (lower === 0x75 /* u */ && next === 0x26 /* & */) {
        const quote = text.charCodeAt(i + 2);
        if (quote === 0x27) {
          // U&'...': backslash starts a Unicode escape here but never escapes the quote
          const end = literalEnd(text, i + 3, Quote.Standard);
          if (end === NOT_FOUND) return incomplete();
          push("string", "");
          i = end;
        } else if (quote === 0x22) {
          const end = quotedIdentifierEnd(text, i + 3);
          if (end === NOT_FOUND) return incomplete();
          push("quoted", text.slice(i + 3, end - 1).replaceAll('""', '"'));
          i = end;
        } else {
          i = word(text, i, push);
        }
      } else {
        i = word(text, i, push);
      }
    } else if (c === 0x24 /* $ */) {
      const next = text.charCodeAt(i + 1);
      if (isDigit(next)) {
        let j = i + 1;
        while (j < n && isDigit(text.charCodeAt(j))) j++;
        push("param", text.slice(i, j));
        i = j;
      } else {
        const tag = dollarTag(text, i);
        if (tag === undefined) {
          push("punct", "$");
          i++;
        } else {
          const close = text.indexOf(tag, i + tag.length);
          if (close === NOT_FOUND) return incomplete();
          push("string", "");
          i = close + tag.length;
        }
      }
    } else if (isDigit(c) || (c === 0x2e /* . */ && isDigit(text.charCodeAt(i + 1)))) {
      i = number(text, i, push);
    } else if (c === 0x3b /* ; */) {
      push("semicolon", ";");
      i++;
    } else {
      push("punct", text[i] as string);
      i++;
    }
  }
  return { tokens, incomplete: false };
}

/** Splits tokens into statements at each `;` (empty statements dropped). */
export function statementsOf(tokens: readonly Token[]): Token[][] {
  const out: Token[][] = [];
  let current: Token[] = [];
  for (const token of tokens) {
    if (token.kind === "semicolon") {
      if (current.length > 0) out.push(current);
      current = [];
    } else current.push(token);
  }
  if (current.length > 0) out.push(current);
  return out;
}

// --- pieces -----------------------------------------------------------------------------------------

/** scan.l's `space`: [ \t\n\r\f\v]. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** scan.l's `ident_start`: [A-Za-z\200-\377_] (every non-ASCII character counts). */
function isIdentStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c >= 0x80;
}

/** scan.l's `ident_cont`: ident_start, digits and `$`. */
function isIdentCont(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === 0x24;
}

/** Up to the end of the line, for a `--` comment. */
function lineEnd(text: string, i: number): number {
  for (let j = i; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x0a || c === 0x0d) return j + 1;
  }
  return text.length;
}

/** Past the `*\/` that closes the block comment at `i`; they nest, as in PostgreSQL. */
function blockCommentEnd(text: string, i: number): number {
  let depth = 0;
  for (let j = i; j < text.length - 1; j++) {
    const c = text.charCodeAt(j);
    const d = text.charCodeAt(j + 1);
    if (c === 0x2f && d === 0x2a) {
      depth++;
      j++;
    } else if (c === 0x2a && d === 0x2f) {
      depth--;
      j++;
      if (depth === 0) return j + 1;
    }
  }
  return NOT_FOUND;
}

/**
 * Past the quote that ends the literal whose body starts at `i`, including the continuation
 * segments PostgreSQL joins to it ('a'<newline>'b' is one literal, and an E'...' literal stays
 * one in its continuations).
 */
function literalEnd(text: string, i: number, quote: Quote): number {
  const n = text.length;
  let j = i;
  for (;;) {
    let closed = false;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 0x5c /* \ */ && quote === Quote.Escape) {
        j += 2;
      } else if (c === 0x27) {
        if (quote !== Quote.Bits && text.charCodeAt(j + 1) === 0x27) j += 2;
        else {
          j++;
          closed = true;
          break;
        }
      } else j++;
    }
    if (!closed) return NOT_FOUND;
    const next = continuation(text, j);
    if (next === NOT_FOUND) return j;
    j = next + 1;
  }
}

/**
 * scan.l's `quotecontinue`: a literal followed by whitespace holding at least one newline (and
 * `--` comments) and another quote goes on in that quote. Returns the index of that quote.
 */
function continuation(text: string, i: number): number {
  const n = text.length;
  let j = i;
  let newline = false;
  while (j < n) {
    const c = text.charCodeAt(j);
    if (c === 0x0a || c === 0x0d) {
      newline = true;
      j++;
    } else if (c === 0x20 || c === 0x09 || c === 0x0c || (newline && c === 0x0b)) {
      j++;
    } else if (c === 0x2d && text.charCodeAt(j + 1) === 0x2d) {
      // a comment counts only with the newline that ends it
      const end = lineEnd(text, j);
      const last = text.charCodeAt(end - 1);
      if (last !== 0x0a && last !== 0x0d) return NOT_FOUND;
      newline = true;
      j = end;
    } else if (c === 0x27 && newline) {
      return j;
    } else return NOT_FOUND;
  }
  return NOT_FOUND;
}

/** Past the `"` that closes the quoted identifier whose body starts at `i` (`""` is a quote). */
function quotedIdentifierEnd(text: string, i: number): number {
  for (let j = i; j < text.length; j++) {
    if (text.charCodeAt(j) === 0x22) {
      if (text.charCodeAt(j + 1) === 0x22) j++;
      else return j + 1;
    }
  }
  return NOT_FOUND;
}

/** The `$tag$` (or `$$`) starting at `i`, or undefined when `$` starts none. */
function dollarTag(text: string, i: number): string | undefined {
  let j = i + 1;
  if (j < text.length && isIdentStart(text.charCodeAt(j))) {
    j++;
    // dolq_cont: like ident_cont, without `$`
    while (j < text.length) {
      const c = text.charCodeAt(j);
      if (!isIdentStart(c) && !isDigit(c)) break;
      j++;
    }
  }
  return text.charCodeAt(j) === 0x24 ? text.slice(i, j + 1) : undefined;
}

function word(text: string, i: number, push: (kind: TokenKind, value: string) => void): number {
  let j = i + 1;
  while (j < text.length && isIdentCont(text.charCodeAt(j))) j++;
  push("word", asciiLower(text.slice(i, j)));
  return j;
}

/**
 * Digits, a fraction, an exponent. Letters right after a number are left to start the next token,
 * as servers before 15 lex them (`1e'...'` is 1 then an E'' string there; 15+ rejects the text).
 */
function number(text: string, i: number, push: (kind: TokenKind, value: string) => void): number {
  const n = text.length;
  let j = i;
  while (j < n && isDigit(text.charCodeAt(j))) j++;
  if (text.charCodeAt(j) === 0x2e && text.charCodeAt(j + 1) !== 0x2e) {
    j++;
    while (j < n && isDigit(text.charCodeAt(j))) j++;
  }
  const e = text.charCodeAt(j) | 0x20;
  if (e === 0x65) {
    let k = j + 1;
    const sign = text.charCodeAt(k);
    if (sign === 0x2b || sign === 0x2d) k++;
    if (isDigit(text.charCodeAt(k))) {
      j = k;
      while (j < n && isDigit(text.charCodeAt(j))) j++;
    }
  }
  push("number", text.slice(i, j));
  return j;
}

/** PostgreSQL folds unquoted identifiers with ASCII rules only. */
function asciiLower(s: string): string {
  let ascii = true;
  for (let k = 0; k < s.length; k++) {
    if (s.charCodeAt(k) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return s.toLowerCase();
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}
