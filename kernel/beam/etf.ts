/**
 * The Erlang external term format (version 131), decoded into a small typed model and encoded from plain
 * JavaScript values.
 *
 * Written here rather than taken from npm: the maintained option, `erlpack`, is a native addon that covers
 * the subset Discord needs (no pids, ports, references, funs, bit binaries or improper lists) and needs a C++
 * toolchain at install. Binaries decode as zero-copy views of the input, so a columnar batch becomes typed
 * arrays without copying.
 */
import { inflateSync } from "node:zlib";

export class Atom {
  constructor(readonly name: string) {}
  toString(): string {
    return this.name;
  }
}
export class ErlFloat {
  constructor(readonly value: number) {}
}
export class Tuple {
  constructor(readonly elements: ErlTerm[]) {}
}
/** A list; `tail` is [] for a proper list, anything else for an improper one. */
export class List {
  constructor(
    readonly elements: ErlTerm[],
    readonly tail: ErlTerm = NIL,
  ) {}
}
export class ErlMap {
  constructor(readonly entries: [ErlTerm, ErlTerm][]) {}
  get(key: string): ErlTerm | undefined {
    return this.entries.find(([k]) => k instanceof Atom && k.name === key)?.[1];
  }
}
export class BitBinary {
  constructor(
    readonly bytes: Uint8Array,
    readonly bitsInLastByte: number,
  ) {}
}
export class Pid {
  constructor(readonly node: string, readonly id: number, readonly serial: number, readonly creation: number) {}
}
export class Port {
  constructor(readonly node: string, readonly id: bigint, readonly creation: number) {}
}
export class Ref {
  constructor(readonly node: string, readonly ids: number[], readonly creation: number) {}
}
/** Funs and export funs are opaque here: shown, never called. */
export class Fun {
  constructor(readonly module: string, readonly name: string, readonly arity: number, readonly exported: boolean) {}
}

/** The empty list; its own tail, so every proper list ends in it. */
export const NIL: List = new List([], null as never);
(NIL as { tail: ErlTerm }).tail = NIL;
Object.freeze(NIL);

export type ErlTerm = number | bigint | ErlFloat | Atom | Uint8Array | BitBinary | Tuple | List | ErlMap | Pid | Port | Ref | Fun;

export const isBinary = (t: unknown): t is Uint8Array => t instanceof Uint8Array;

// ---- decoding -----------------------------------------------------------------------------------------

class Reader {
  private view: DataView;
  pos = 0;
  constructor(private buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  u8() {
    return this.view.getUint8(this.pos++);
  }
  u16() {
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32() {
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  i32() {
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }
  f64() {
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw new Error("external term: truncated data");
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  /** The next `n` bytes as text: short ASCII read in place (an atom needs no view of its bytes), else `decoder`'s. */
  text(n: number, decoder: { decode(b: Uint8Array): string }): string {
    if (n > 32 || this.pos + n > this.buf.length) return decoder.decode(this.bytes(n));
    const b = this.buf;
    const end = this.pos + n;
    let s = "";
    for (let i = this.pos; i < end; i++) {
      if (b[i] > 127) return decoder.decode(this.bytes(n));
      s += String.fromCharCode(b[i]);
    }
    this.pos = end;
    return s;
  }
}

const utf8 = new TextDecoder("utf-8");
const latin1 = new TextDecoder("latin1");

/**
 * Text from bytes (a short binary: a module or function name, a node). Short ASCII text is read byte by byte —
 * a TextDecoder call costs more than the name, and a summary tick reads tens of thousands.
 */
export function shortText(b: Uint8Array, decoder: { decode(b: Uint8Array): string }): string {
  if (b.length > 32) return decoder.decode(b);
  let s = "";
  for (let i = 0; i < b.length; i++) {
    if (b[i] > 127) return decoder.decode(b);
    s += String.fromCharCode(b[i]);
  }
  return s;
}

export function decode(buf: Uint8Array): ErlTerm {
  if (buf[0] !== 131) throw new Error(`external term: expected version byte 131, got ${buf[0]}`);
  if (buf[1] === 80) {
    const size = new DataView(buf.buffer, buf.byteOffset + 2, 4).getUint32(0);
    const inflated = inflateSync(buf.subarray(6));
    if (inflated.length !== size) throw new Error("external term: compressed size mismatch");
    return new Decoder(new Reader(inflated)).term();
  }
  return new Decoder(new Reader(buf.subarray(1))).term();
}

class Decoder {
  constructor(private r: Reader) {}

  private atomText(): string {
    const tag = this.r.u8();
    return (this.atomOfTag(tag) as Atom).name;
  }

  private atomOfTag(tag: number): ErlTerm {
    const r = this.r;
    switch (tag) {
      case 118: return atom(r.text(r.u16(), utf8)); // ATOM_UTF8_EXT
      case 119: return atom(r.text(r.u8(), utf8)); // SMALL_ATOM_UTF8_EXT
      case 100: return atom(r.text(r.u16(), latin1)); // ATOM_EXT
      case 115: return atom(r.text(r.u8(), latin1)); // SMALL_ATOM_EXT
      default: throw new Error(`external term: expected an atom, got tag ${tag}`);
    }
  }

  term(): ErlTerm {
    const r = this.r;
    const tag = r.u8();
    switch (tag) {
      case 97: return r.u8(); // SMALL_INTEGER_EXT
      case 98: return r.i32(); // INTEGER_EXT
      case 70: return new ErlFloat(r.f64()); // NEW_FLOAT_EXT
      case 99: return new ErlFloat(parseFloat(latin1.decode(r.bytes(31)).replace(/\0.*$/, ""))); // FLOAT_EXT
      case 118: case 119: case 100: case 115: return this.atomOfTag(tag);
      case 104: return this.tuple(r.u8()); // SMALL_TUPLE_EXT
      case 105: return this.tuple(r.u32()); // LARGE_TUPLE_EXT
      case 106: return NIL; // NIL_EXT
      case 107: return new List(Array.from(r.bytes(r.u16()))); // STRING_EXT: a list of bytes
      case 108: { // LIST_EXT
        const n = r.u32();
        const elements = new Array<ErlTerm>(n);
        for (let i = 0; i < n; i++) elements[i] = this.term();
        const tail = this.term();
        return new List(elements, tail instanceof List && tail.elements.length === 0 ? NIL : tail);
      }
      case 109: return r.bytes(r.u32()); // BINARY_EXT
      case 77: { // BIT_BINARY_EXT
        const n = r.u32();
        const bits = r.u8();
        return new BitBinary(r.bytes(n), bits);
      }
      case 110: return bigOf(r.bytes(r.u8() + 1)); // SMALL_BIG_EXT
      case 111: return bigOf(r.bytes(r.u32() + 1)); // LARGE_BIG_EXT
      case 116: { // MAP_EXT
        const n = r.u32();
        const entries: [ErlTerm, ErlTerm][] = new Array(n);
        for (let i = 0; i < n; i++) entries[i] = [this.term(), this.term()];
        return new ErlMap(entries);
      }
      case 88: { // NEW_PID_EXT
        const node = this.atomText();
        return new Pid(node, r.u32(), r.u32(), r.u32());
      }
      case 103: { // PID_EXT
        const node = this.atomText();
        return new Pid(node, r.u32(), r.u32(), r.u8());
      }
      case 89: { // NEW_PORT_EXT
        const node = this.atomText();
        return new Port(node, BigInt(r.u32()), r.u32());
      }
      case 120: { // V4_PORT_EXT
        const node = this.atomText();
        const hi = BigInt(r.u32());
        const lo = BigInt(r.u32());
        return new Port(node, (hi << 32n) | lo, r.u32());
      }
      case 102: { // PORT_EXT
        const node = this.atomText();
        return new Port(node, BigInt(r.u32()), r.u8());
      }
      case 90: { // NEWER_REFERENCE_EXT
        const len = r.u16();
        const node = this.atomText();
        const creation = r.u32();
        return new Ref(node, Array.from({ length: len }, () => r.u32()), creation);
      }
      case 114: { // NEW_REFERENCE_EXT
        const len = r.u16();
        const node = this.atomText();
        const creation = r.u8();
        return new Ref(node, Array.from({ length: len }, () => r.u32()), creation);
      }
      case 101: { // REFERENCE_EXT
        const node = this.atomText();
        return new Ref(node, [r.u32()], r.u8());
      }
      case 113: { // EXPORT_EXT
        const m = (this.term() as Atom).name;
        const f = (this.term() as Atom).name;
        return new Fun(m, f, Number(this.term()), true);
      }
      case 112: { // NEW_FUN_EXT: size, arity, uniq(16), index, numfree, module, oldindex, olduniq, pid, free vars
        const start = r.pos;
        const size = r.u32();
        const arity = r.u8();
        r.bytes(16 + 4);
        r.u32();
        const m = (this.term() as Atom).name;
        r.pos = start + size;
        return new Fun(m, "fun", arity, false);
      }
      default:
        throw new Error(`external term: unsupported tag ${tag}`);
    }
  }

  private tuple(n: number): Tuple {
    const elements = new Array<ErlTerm>(n);
    for (let i = 0; i < n; i++) elements[i] = this.term();
    return new Tuple(elements);
  }
}

/** Atoms repeat a lot (column dictionaries): intern them. */
const atoms = new Map<string, Atom>();
function atom(name: string): Atom {
  let a = atoms.get(name);
  if (!a) {
    a = new Atom(name);
    if (atoms.size < 100_000) atoms.set(name, a);
  }
  return a;
}
export { atom };

function bigOf(b: Uint8Array): number | bigint {
  const sign = b[0];
  let v = 0n;
  for (let i = b.length - 1; i >= 1; i--) v = (v << 8n) | BigInt(b[i]);
  if (sign) v = -v;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

// ---- encoding -----------------------------------------------------------------------------------------

/**
 * Plain JavaScript to external format: strings → binaries, integers → integers, other numbers → floats,
 * booleans → true/false, null/undefined → nil (Elixir's nil, the bridge's "none"), arrays → lists, plain
 * objects → maps with atom keys, and the model's classes (Atom, Tuple, ErlFloat…) as themselves.
 */
export function encode(value: unknown): Buffer {
  const w = new Writer();
  w.u8(131);
  encodeInto(w, value);
  return w.done();
}

/**
 * encode(value).length, by the same walk with nothing written: what a received event weighed on the wire
 * (a summary's caption) without building its bytes again.
 */
export function encodedSize(value: unknown): number {
  const w = new Counter();
  encodeInto(w, value);
  return 1 + w.pos;
}

/** Where encodeInto writes: bytes (Writer), or only their count (Counter). */
interface Sink {
  u8(v: number): void;
  u16(v: number): void;
  u32(v: number): void;
  i32(v: number): void;
  f64(v: number): void;
  bytes(b: Uint8Array): void;
  /** `n` bytes of `s` as UTF-8 (n = Buffer.byteLength(s)). */
  text(s: string, n: number): void;
}

class Counter implements Sink {
  pos = 0;
  u8() {
    this.pos += 1;
  }
  u16() {
    this.pos += 2;
  }
  u32() {
    this.pos += 4;
  }
  i32() {
    this.pos += 4;
  }
  f64() {
    this.pos += 8;
  }
  bytes(b: Uint8Array) {
    this.pos += b.length;
  }
  text(_s: string, n: number) {
    this.pos += n;
  }
}

class Writer implements Sink {
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;
  private room(n: number) {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number) {
    this.room(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number) {
    this.room(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  u32(v: number) {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
  i32(v: number) {
    this.room(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }
  f64(v: number) {
    this.room(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }
  bytes(b: Uint8Array) {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  text(s: string, n: number) {
    this.room(n);
    this.pos += this.buf.write(s, this.pos, n, "utf8");
  }
  done() {
    return this.buf.subarray(0, this.pos);
  }
}

/** Buffer.byteLength(s, "utf8"), without the call for short ASCII text (atom names, map keys). */
function utf8Length(s: string): number {
  if (s.length > 64) return Buffer.byteLength(s, "utf8");
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return Buffer.byteLength(s, "utf8");
  return s.length;
}

function encodeAtom(w: Sink, name: string) {
  const n = utf8Length(name);
  if (n < 256) {
    w.u8(119);
    w.u8(n);
  } else {
    w.u8(118);
    w.u16(n);
  }
  w.text(name, n);
}

function encodeInteger(w: Sink, v: bigint | number) {
  if (typeof v === "number" && v >= 0 && v < 256) {
    w.u8(97);
    w.u8(v);
  } else if (typeof v === "number" && v >= -(2 ** 31) && v < 2 ** 31) {
    w.u8(98);
    w.i32(v);
  } else {
    let big = BigInt(v);
    const sign = big < 0n ? 1 : 0;
    if (sign) big = -big;
    const digits: number[] = [];
    while (big > 0n) {
      digits.push(Number(big & 0xffn));
      big >>= 8n;
    }
    if (digits.length < 256) {
      w.u8(110);
      w.u8(digits.length);
    } else {
      w.u8(111);
      w.u32(digits.length);
    }
    w.u8(sign);
    w.bytes(Uint8Array.from(digits));
  }
}

function encodeInto(w: Sink, v: unknown): void {
  if (v === null || v === undefined) return encodeAtom(w, "nil");
  if (typeof v === "boolean") return encodeAtom(w, String(v));
  if (typeof v === "number") {
    if (Number.isInteger(v)) return encodeInteger(w, v);
    w.u8(70);
    return w.f64(v);
  }
  if (typeof v === "bigint") return encodeInteger(w, v);
  if (typeof v === "string") {
    const n = utf8Length(v);
    w.u8(109);
    w.u32(n);
    return w.text(v, n);
  }
  if (v instanceof Uint8Array) {
    w.u8(109);
    w.u32(v.length);
    return w.bytes(v);
  }
  if (v instanceof Atom) return encodeAtom(w, v.name);
  if (v instanceof ErlFloat) {
    w.u8(70);
    return w.f64(v.value);
  }
  if (v instanceof Tuple) {
    const n = v.elements.length;
    if (n < 256) {
      w.u8(104);
      w.u8(n);
    } else {
      w.u8(105);
      w.u32(n);
    }
    for (const e of v.elements) encodeInto(w, e);
    return;
  }
  if (v instanceof List || Array.isArray(v)) {
    const elements = v instanceof List ? v.elements : v;
    const tail = v instanceof List ? v.tail : NIL;
    if (elements.length === 0) return w.u8(106);
    w.u8(108);
    w.u32(elements.length);
    for (const e of elements) encodeInto(w, e);
    if (tail instanceof List && tail.elements.length === 0) w.u8(106);
    else encodeInto(w, tail);
    return;
  }
  if (v instanceof BitBinary) {
    w.u8(77);
    w.u32(v.bytes.length);
    w.u8(v.bitsInLastByte);
    return w.bytes(v.bytes);
  }
  if (v instanceof Pid) {
    w.u8(88);
    encodeAtom(w, v.node);
    w.u32(v.id);
    w.u32(v.serial);
    return w.u32(v.creation);
  }
  if (v instanceof Fun && v.exported) {
    w.u8(113); // EXPORT_EXT
    encodeAtom(w, v.module);
    encodeAtom(w, v.name);
    return encodeInteger(w, v.arity);
  }
  if (v instanceof Fun) throw new TypeError(`a fun of ${v.module} cannot be sent back: funs other than Mod.fun/arity are opaque here`);
  if (v instanceof Ref) {
    w.u8(90);
    w.u16(v.ids.length);
    encodeAtom(w, v.node);
    w.u32(v.creation);
    for (const id of v.ids) w.u32(id);
    return;
  }
  if (v instanceof Port) {
    w.u8(120);
    encodeAtom(w, v.node);
    w.u32(Number(v.id >> 32n));
    w.u32(Number(v.id & 0xffffffffn));
    return w.u32(v.creation);
  }
  const entries: [unknown, unknown][] = v instanceof ErlMap ? v.entries : v instanceof Map ? [...v.entries()] : Object.entries(v as object).map(([k, x]) => [new Atom(k), x]);
  w.u8(116);
  w.u32(entries.length);
  for (const [k, x] of entries) {
    encodeInto(w, k);
    encodeInto(w, x);
  }
}
