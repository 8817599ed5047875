// Source maps of wasm modules (Source Map Revision 3; for wasm the
// "generated column" of each mapping is a byte offset in the module and
// there is one generated line). asc writes one with --sourceMap. Used to put
// file:line on sim backtrace frames, and by `tsxen sim --inspect` and its test
// to go from a source line to a module offset.

export interface RawSourceMap {
  version: number;
  sources: string[];
  sourcesContent?: (string | null)[];
  names?: string[];
  mappings: string;
  sourceRoot?: string;
}

export interface Mapping {
  offset: number;   // byte offset in the wasm module
  source: number;   // index into sources
  line: number;     // 1-based
  column: number;   // 1-based
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUE = new Map([...B64].map((c, i) => [c, i]));

function decodeVlqs(segment: string): number[] {
  const out: number[] = [];
  let value = 0, shift = 0;
  for (const c of segment) {
    const digit = B64_VALUE.get(c);
    if (digit === undefined) throw new Error(`source map: bad base64 digit '${c}'`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) { shift += 5; continue; }
    out.push(value & 1 ? -Math.floor(value / 2) : Math.floor(value / 2));
    value = 0;
    shift = 0;
  }
  return out;
}

export class WasmSourceMap {
  readonly sources: string[];
  readonly mappings: Mapping[];   // by offset

  constructor(readonly raw: RawSourceMap) {
    if (raw.version !== 3) throw new Error(`source map: version ${raw.version}, expected 3`);
    this.sources = raw.sources;
    const out: Mapping[] = [];
    let offset = 0, source = 0, line = 0, column = 0;
    // Generated lines are separated by ';'; a wasm map uses the first only.
    for (const segment of raw.mappings.split(";")[0].split(",")) {
      if (!segment) continue;
      const f = decodeVlqs(segment);
      offset += f[0];
      if (f.length < 4) continue; // a mapping to no source
      source += f[1];
      line += f[2];
      column += f[3];
      out.push({ offset, source, line: line + 1, column: column + 1 });
    }
    this.mappings = out.sort((a, b) => a.offset - b.offset);
  }

  static parse(json: string): WasmSourceMap {
    return new WasmSourceMap(JSON.parse(json) as RawSourceMap);
  }

  // The mapping in force at `offset`: the last one at or before it.
  lookup(offset: number): { source: string; line: number; column: number } | null {
    let lo = 0, hi = this.mappings.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.mappings[mid].offset <= offset) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found < 0) return null;
    const m = this.mappings[found];
    return { source: this.sources[m.source], line: m.line, column: m.column };
  }

  // Module offsets whose mapping is `line` of `source`, lowest first.
  offsetsOf(source: string, line: number): number[] {
    const index = this.sources.indexOf(source);
    return this.mappings.filter((m) => m.source === index && m.line === line).map((m) => m.offset);
  }
}
