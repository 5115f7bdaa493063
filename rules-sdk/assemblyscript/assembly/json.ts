// A small JSON value tree, parser and serializer. AssemblyScript has no
// built-in JSON and the SDK stays dependency-free, so the rules ABI carries
// its own (strict RFC 8259, depth-limited).

export const enum Kind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

const MAX_DEPTH: i32 = 64;

/** A JSON value. Accessors never trap: a missing member reads as null. */
export class Value {
  kind: Kind = Kind.Null;
  b: bool = false;
  n: f64 = 0;
  s: string = "";
  items: Array<Value> | null = null;
  members: Map<string, Value> | null = null;

  static nil(): Value {
    return new Value();
  }
  static ofBool(b: bool): Value {
    const v = new Value();
    v.kind = Kind.Bool;
    v.b = b;
    return v;
  }
  static ofNumber(n: f64): Value {
    const v = new Value();
    v.kind = Kind.Number;
    v.n = n;
    return v;
  }
  static ofString(s: string): Value {
    const v = new Value();
    v.kind = Kind.String;
    v.s = s;
    return v;
  }
  static newArray(): Value {
    const v = new Value();
    v.kind = Kind.Array;
    v.items = new Array<Value>();
    return v;
  }
  static newObject(): Value {
    const v = new Value();
    v.kind = Kind.Object;
    v.members = new Map<string, Value>();
    return v;
  }
  static ofStrings(a: string[]): Value {
    const v = Value.newArray();
    for (let i = 0; i < a.length; i++) v.push(Value.ofString(a[i]));
    return v;
  }

  isNull(): bool {
    return this.kind == Kind.Null;
  }
  isObject(): bool {
    return this.kind == Kind.Object;
  }
  isArray(): bool {
    return this.kind == Kind.Array;
  }
  isString(): bool {
    return this.kind == Kind.String;
  }

  /** Member of an object, or a null Value. */
  get(key: string): Value {
    const m = this.members;
    if (m != null && m.has(key)) return m.get(key);
    return Value.nil();
  }
  has(key: string): bool {
    const m = this.members;
    return m != null && m.has(key);
  }
  /** Sets a member; turns a null Value into an object. */
  set(key: string, v: Value): Value {
    if (this.kind != Kind.Object) {
      this.kind = Kind.Object;
      this.members = new Map<string, Value>();
    }
    this.members!.set(key, v);
    return this;
  }
  keys(): string[] {
    const m = this.members;
    return m != null ? m.keys() : new Array<string>();
  }
  /** Element i of an array, or a null Value. */
  at(i: i32): Value {
    const a = this.items;
    if (a != null && i >= 0 && i < a.length) return a[i];
    return Value.nil();
  }
  push(v: Value): Value {
    if (this.kind != Kind.Array) {
      this.kind = Kind.Array;
      this.items = new Array<Value>();
    }
    this.items!.push(v);
    return this;
  }
  get length(): i32 {
    if (this.items != null) return this.items!.length;
    if (this.members != null) return this.members!.size;
    return 0;
  }

  asString(): string {
    return this.kind == Kind.String ? this.s : "";
  }
  asBool(): bool {
    return this.kind == Kind.Bool ? this.b : false;
  }
  asNumber(): f64 {
    return this.kind == Kind.Number ? this.n : 0;
  }
  /** The strings of an array, skipping other elements. */
  asStrings(): string[] {
    const out = new Array<string>();
    const a = this.items;
    if (a == null) return out;
    for (let i = 0; i < a.length; i++) {
      if (a[i].kind == Kind.String) out.push(a[i].s);
    }
    return out;
  }

  toJSON(): string {
    const parts = new Array<string>();
    write(parts, this);
    return parts.join("");
  }
}

/** Parses UTF-8 JSON from linear memory; returns null when invalid. */
export function parseBytes(ptr: usize, len: usize): Value | null {
  const p = new Parser(ptr, ptr + len);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.failed || p.pos != p.end) return null;
  return v;
}

/** Parses a JSON string; returns null when invalid. */
export function parse(s: string): Value | null {
  const buf = String.UTF8.encode(s);
  return parseBytes(changetype<usize>(buf), <usize>buf.byteLength);
}

class Parser {
  pos: usize;
  end: usize;
  failed: bool = false;

  constructor(pos: usize, end: usize) {
    this.pos = pos;
    this.end = end;
  }

  peek(): u32 {
    return this.pos < this.end ? <u32>load<u8>(this.pos) : 0;
  }

  ws(): void {
    while (this.pos < this.end) {
      const c = <u32>load<u8>(this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  fail(): Value {
    this.failed = true;
    this.pos = this.end;
    return Value.nil();
  }

  literal(word: string, v: Value): Value {
    const n = <usize>word.length;
    if (this.end - this.pos < n) return this.fail();
    for (let i: usize = 0; i < n; i++) {
      if (<u32>load<u8>(this.pos + i) != <u32>word.charCodeAt(<i32>i)) return this.fail();
    }
    this.pos += n;
    return v;
  }

  value(depth: i32): Value {
    if (depth > MAX_DEPTH) return this.fail();
    const c = this.peek();
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      const s = this.str();
      return this.failed ? Value.nil() : Value.ofString(s);
    }
    if (c == 0x74) return this.literal("true", Value.ofBool(true));
    if (c == 0x66) return this.literal("false", Value.ofBool(false));
    if (c == 0x6e) return this.literal("null", Value.nil());
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    return this.fail();
  }

  object(depth: i32): Value {
    this.pos++; // {
    const v = Value.newObject();
    this.ws();
    if (this.peek() == 0x7d) {
      this.pos++;
      return v;
    }
    while (!this.failed) {
      this.ws();
      if (this.peek() != 0x22) return this.fail();
      const key = this.str();
      this.ws();
      if (this.peek() != 0x3a) return this.fail();
      this.pos++;
      this.ws();
      const member = this.value(depth + 1);
      v.members!.set(key, member);
      this.ws();
      const c = this.peek();
      this.pos++;
      if (c == 0x7d) return v;
      if (c != 0x2c) return this.fail();
    }
    return this.fail();
  }

  array(depth: i32): Value {
    this.pos++; // [
    const v = Value.newArray();
    this.ws();
    if (this.peek() == 0x5d) {
      this.pos++;
      return v;
    }
    while (!this.failed) {
      this.ws();
      v.items!.push(this.value(depth + 1));
      this.ws();
      const c = this.peek();
      this.pos++;
      if (c == 0x5d) return v;
      if (c != 0x2c) return this.fail();
    }
    return this.fail();
  }

  number(): Value {
    const start = this.pos;
    while (this.pos < this.end) {
      const c = <u32>load<u8>(this.pos);
      if ((c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x2b || c == 0x2e || c == 0x65 || c == 0x45) {
        this.pos++;
      } else {
        break;
      }
    }
    const text = String.UTF8.decodeUnsafe(start, this.pos - start);
    const n = parseFloat(text);
    if (isNaN(n)) return this.fail();
    return Value.ofNumber(n);
  }

  // str reads a string token. The host charges a termination check to every
  // loop iteration and function entry, so the fast path scans 8 bytes per
  // iteration (SWAR) and widens ASCII itself instead of decoding per byte.
  str(): string {
    this.pos++; // opening quote
    let start = this.pos;
    let ascii = true;
    let parts: Array<string> | null = null;
    while (this.pos < this.end) {
      while (this.pos + 8 <= this.end) {
        const w = load<u64>(this.pos);
        if (special(w)) break;
        this.pos += 8;
      }
      const stop = min(this.pos + 8, this.end);
      while (this.pos < stop) {
        const c = <u32>load<u8>(this.pos);
        if (c == 0x22 || c == 0x5c || c < 0x20) break;
        if (c >= 0x80) ascii = false;
        this.pos++;
      }
      if (this.pos >= this.end) break;
      const c = <u32>load<u8>(this.pos);
      if (c == 0x22) {
        const tail = decode(start, this.pos - start, ascii);
        this.pos++;
        if (parts == null) return tail;
        parts.push(tail);
        return parts.join("");
      }
      if (c == 0x5c) {
        if (parts == null) parts = new Array<string>();
        parts.push(decode(start, this.pos - start, ascii));
        ascii = true;
        this.pos++;
        const e = this.peek();
        this.pos++;
        if (e == 0x22) parts.push("\"");
        else if (e == 0x5c) parts.push("\\");
        else if (e == 0x2f) parts.push("/");
        else if (e == 0x62) parts.push("\b");
        else if (e == 0x66) parts.push("\f");
        else if (e == 0x6e) parts.push("\n");
        else if (e == 0x72) parts.push("\r");
        else if (e == 0x74) parts.push("\t");
        else if (e == 0x75) {
          const u = this.hex4();
          if (u < 0) break;
          parts.push(String.fromCharCode(u)); // surrogate halves pair up in UTF-16
        } else break;
        start = this.pos;
        continue;
      }
      if (c < 0x20) break; // raw control characters are invalid in strings
      // an ordinary byte at a word boundary: keep scanning
    }
    this.fail();
    return "";
  }

  hex4(): i32 {
    if (this.end - this.pos < 4) return -1;
    let u: i32 = 0;
    for (let i = 0; i < 4; i++) {
      const c = <i32>load<u8>(this.pos++);
      let d: i32;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else return -1;
      u = (u << 4) | d;
    }
    return u;
  }
}

const ONES: u64 = 0x0101010101010101;
const HIGH: u64 = 0x8080808080808080;

// special reports whether any byte of w is '"', '\\', a control character or
// non-ASCII (which the byte loop handles).
@inline
function special(w: u64): bool {
  const q = w ^ (ONES * 0x22);
  const b = w ^ (ONES * 0x5c);
  return (((q - ONES) & ~q) | ((b - ONES) & ~b) | (w - ONES * 0x20) | w) & HIGH ? true : false;
}

// decode makes a string of n UTF-8 bytes; ASCII is widened 4 bytes at a time.
function decode(ptr: usize, n: usize, ascii: bool): string {
  if (!ascii) return String.UTF8.decodeUnsafe(ptr, n);
  const out = changetype<usize>(__new(n << 1, idof<string>()));
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) {
    const x = <u64>load<u32>(ptr + i);
    store<u64>(out + (i << 1), (x & 0xff) | ((x & 0xff00) << 8) | ((x & 0xff0000) << 16) | ((x & 0xff000000) << 24));
  }
  for (; i < n; i++) store<u16>(out + (i << 1), <u16>load<u8>(ptr + i));
  return changetype<string>(out);
}

function write(parts: Array<string>, v: Value): void {
  switch (v.kind) {
    case Kind.Null:
      parts.push("null");
      break;
    case Kind.Bool:
      parts.push(v.b ? "true" : "false");
      break;
    case Kind.Number:
      parts.push(formatNumber(v.n));
      break;
    case Kind.String:
      writeString(parts, v.s);
      break;
    case Kind.Array: {
      parts.push("[");
      const a = v.items!;
      for (let i = 0; i < a.length; i++) {
        if (i > 0) parts.push(",");
        write(parts, a[i]);
      }
      parts.push("]");
      break;
    }
    case Kind.Object: {
      parts.push("{");
      const m = v.members!;
      const keys = m.keys();
      for (let i = 0; i < keys.length; i++) {
        if (i > 0) parts.push(",");
        writeString(parts, keys[i]);
        parts.push(":");
        write(parts, m.get(keys[i]));
      }
      parts.push("}");
      break;
    }
  }
}

function formatNumber(n: f64): string {
  if (!isFinite(n)) return "null"; // JSON has no NaN or Infinity
  if (n == Math.trunc(n) && Math.abs(n) < 9007199254740992.0) return (<i64>n).toString();
  return n.toString();
}

const HEX = "0123456789abcdef";

function writeString(parts: Array<string>, s: string): void {
  let clean = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c == 0x22 || c == 0x5c) {
      clean = false;
      break;
    }
  }
  parts.push("\"");
  if (clean) {
    parts.push(s);
  } else {
    let start = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
      if (i > start) parts.push(s.substring(start, i));
      if (c == 0x22) parts.push("\\\"");
      else if (c == 0x5c) parts.push("\\\\");
      else if (c == 0x0a) parts.push("\\n");
      else if (c == 0x0d) parts.push("\\r");
      else if (c == 0x09) parts.push("\\t");
      else parts.push("\\u00" + HEX.charAt(c >> 4) + HEX.charAt(c & 15));
      start = i + 1;
    }
    if (start < s.length) parts.push(s.substring(start));
  }
  parts.push("\"");
}
