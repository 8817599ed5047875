// Reads and edits the sections of a wasm binary (WebAssembly core spec,
// "Binary Format": modules, sections, the custom "name" section of the
// appendix): the function names asc writes with --debug, custom sections
// (sourceMappingURL) to drop or replace, and the memory's maximum. Only the
// framing is parsed; section contents other than these are copied as bytes.

export interface Section {
  id: number;
  start: number;      // offset of the section id byte
  contentStart: number;
  end: number;        // one past the last content byte
  name?: string;      // custom sections (id 0)
}

const MAGIC = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const CUSTOM = 0;
const IMPORT = 2;
const MEMORY = 5;
const EXPORT = 7;
const CODE = 10;

class Reader {
  constructor(readonly bytes: Uint8Array, public pos: number) {}
  u8(): number {
    if (this.pos >= this.bytes.length) throw new Error("wasm: unexpected end of module");
    return this.bytes[this.pos++];
  }
  uleb(): number {
    let result = 0, shift = 0;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return result;
      shift += 7;
      if (shift > 35) throw new Error("wasm: LEB128 too long");
    }
  }
  name(): string {
    const len = this.uleb();
    const s = Buffer.from(this.bytes.subarray(this.pos, this.pos + len)).toString("utf8");
    this.pos += len;
    return s;
  }
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function encodeName(s: string): number[] {
  const b = Buffer.from(s, "utf8");
  return [...uleb(b.length), ...b];
}

export function sections(wasm: Uint8Array): Section[] {
  if (wasm.length < 8 || MAGIC.some((b, i) => wasm[i] !== b)) throw new Error("not a wasm module (bad magic or version)");
  const out: Section[] = [];
  const r = new Reader(wasm, 8);
  while (r.pos < wasm.length) {
    const start = r.pos;
    const id = r.u8();
    const size = r.uleb();
    const contentStart = r.pos;
    const end = contentStart + size;
    if (end > wasm.length) throw new Error("wasm: section runs past the end of the module");
    const s: Section = { id, start, contentStart, end };
    if (id === CUSTOM) s.name = new Reader(wasm, contentStart).name();
    out.push(s);
    r.pos = end;
  }
  return out;
}

export function customSection(wasm: Uint8Array, name: string): Uint8Array | null {
  const s = sections(wasm).find((x) => x.id === CUSTOM && x.name === name);
  if (!s) return null;
  const r = new Reader(wasm, s.contentStart);
  r.name();
  return wasm.subarray(r.pos, s.end);
}

// The module without the custom sections `names` (all custom sections if
// `names` is omitted).
export function withoutCustomSections(wasm: Uint8Array, names?: string[]): Uint8Array {
  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  for (const s of sections(wasm)) {
    if (s.id === CUSTOM && (!names || names.includes(s.name ?? ""))) continue;
    parts.push(wasm.subarray(s.start, s.end));
  }
  return Buffer.concat(parts);
}

// The module with custom section `name` set to `content` (replaced, or
// appended at the end).
export function withCustomSection(wasm: Uint8Array, name: string, content: Uint8Array): Uint8Array {
  const body = [...encodeName(name), ...content];
  return Buffer.concat([withoutCustomSections(wasm, [name]), Uint8Array.from([CUSTOM, ...uleb(body.length)]), Uint8Array.from(body)]);
}

// The sourceMappingURL custom section holds one name-encoded string.
export function sourceMappingURL(wasm: Uint8Array): string | null {
  const c = customSection(wasm, "sourceMappingURL");
  return c ? new Reader(c, 0).name() : null;
}

export function withSourceMappingURL(wasm: Uint8Array, url: string): Uint8Array {
  return withCustomSection(wasm, "sourceMappingURL", Uint8Array.from(encodeName(url)));
}

// Number of imported functions: defined functions are numbered after them.
export function importedFunctionCount(wasm: Uint8Array): number {
  const s = sections(wasm).find((x) => x.id === IMPORT);
  if (!s) return 0;
  const r = new Reader(wasm, s.contentStart);
  let functions = 0;
  for (let n = r.uleb(); n > 0; n--) {
    r.name();
    r.name();
    const kind = r.u8();
    if (kind === 0) { r.uleb(); functions++; }                  // func: type index
    else if (kind === 1) { r.u8(); limits(r); }                  // table: reftype, limits
    else if (kind === 2) limits(r);                              // memory
    else if (kind === 3) { r.u8(); r.u8(); }                     // global: valtype, mut
    else throw new Error(`wasm: unknown import kind ${kind}`);
  }
  return functions;
}

// Function index -> module offset of its body's first instruction (after
// the local declarations): where a debugger breaks "at the function".
export function functionBodyOffsets(wasm: Uint8Array): Map<number, number> {
  const out = new Map<number, number>();
  const s = sections(wasm).find((x) => x.id === CODE);
  if (!s) return out;
  const r = new Reader(wasm, s.contentStart);
  const first = importedFunctionCount(wasm);
  const count = r.uleb();
  for (let i = 0; i < count; i++) {
    const size = r.uleb();
    const end = r.pos + size;
    for (let groups = r.uleb(); groups > 0; groups--) { r.uleb(); r.u8(); } // count, valtype
    out.set(first + i, r.pos);
    r.pos = end;
  }
  return out;
}

// Exported functions: export name -> function index.
export function functionExports(wasm: Uint8Array): Map<string, number> {
  const out = new Map<string, number>();
  const s = sections(wasm).find((x) => x.id === EXPORT);
  if (!s) return out;
  const r = new Reader(wasm, s.contentStart);
  for (let n = r.uleb(); n > 0; n--) {
    const name = r.name();
    const kind = r.u8();
    const index = r.uleb();
    if (kind === 0) out.set(name, index);
  }
  return out;
}

function limits(r: Reader): { min: number; max?: number; flags: number } {
  const flags = r.u8();
  const min = r.uleb();
  return flags & 1 ? { flags, min, max: r.uleb() } : { flags, min };
}

// Function index -> name, from the "name" section (subsection 1); empty
// without one.
export function functionNames(wasm: Uint8Array): Map<number, string> {
  const names = new Map<number, string>();
  const c = customSection(wasm, "name");
  if (!c) return names;
  const r = new Reader(c, 0);
  while (r.pos < c.length) {
    const id = r.u8();
    const size = r.uleb();
    const end = r.pos + size;
    if (id === 1) {
      for (let n = r.uleb(); n > 0; n--) {
        const index = r.uleb();
        names.set(index, r.name());
      }
    }
    r.pos = end;
  }
  return names;
}

// The module with its (one, defined) memory's maximum lowered to
// `maxPages`, so memory.grow fails past it; the sim bounds memory by the
// guest's RAM this way, as the native runtime does. The new maximum is
// written in as many bytes as the old one (LEB128 allows padding), so no
// offset in the module moves: V8's positions stay those of the source map.
// A memory without a maximum is left as it is (adding one would move the
// code); tsxen build's modules have one (asc --maximumMemory).
export function withMemoryMax(wasm: Uint8Array, maxPages: number): Uint8Array {
  const s = sections(wasm).find((x) => x.id === MEMORY);
  if (!s) return wasm;
  const r = new Reader(wasm, s.contentStart);
  if (r.uleb() !== 1) return wasm;
  const flags = r.u8();
  if (flags !== 1) return wasm; // no maximum, or shared/64-bit: leave alone
  const min = r.uleb();
  const maxAt = r.pos;
  const max = r.uleb();
  const width = r.pos - maxAt;
  const bounded = Math.max(min, Math.min(max, maxPages));
  const out = Uint8Array.from(wasm);
  for (let i = 0; i < width; i++) out[maxAt + i] = (Math.floor(bounded / 2 ** (7 * i)) & 0x7f) | (i < width - 1 ? 0x80 : 0);
  return out;
}
