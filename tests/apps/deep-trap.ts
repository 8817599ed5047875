// Test app: faults deep in a call chain, so that the backtrace has several
// named frames (main → Parser#parse → Parser#header → sumWords → readWord).
// The command line picks the fault: "oob" (default) reads past the end of
// wasm memory, "null" reads address 0 (a page fault under Xen), "abort"
// fails an assert, "oom" allocates until memory runs out, "recurse" recurses
// until the call stack is exhausted. Each function is recursive or called
// from several places with loops in it, so that binaryen keeps it a
// function of its own.
import { log } from "tsxen";
import { appArgs } from "./probe-args";

let mode: string = "";

// A big-endian word, byte by byte, with a running check digit: too much code
// for binaryen to copy into its callers.
function readWord(at: usize, i: i32): u32 {
  let v: u32 = 0;
  let check: u32 = 7;
  for (let k = 0; k < 4; k++) {
    const b = <u32>load<u8>(at + <usize>(i * 4 + k));
    v = (v << 8) | b;
    check = (check * 31 + b) % 65521;
    if (check == 12345) v ^= check;
  }
  return v ^ (check & 0);
}

// Sums `words` words by halves (recursive, so never inlined).
function sumWords(at: usize, words: i32): u32 {
  if (words <= 1) return words == 1 ? readWord(at, 0) : 0;
  const half = words >> 1;
  return sumWords(at, half) + sumWords(at + <usize>(half * 4), words - half);
}

class Parser {
  blocks: Array<Uint8Array> = new Array<Uint8Array>();

  header(at: usize, words: i32): u32 {
    if (mode == "abort") assert(words < 4, "header too long");
    if (mode == "oom") for (;;) this.blocks.push(new Uint8Array(1 << 20));
    let h: u32 = sumWords(at, words);
    for (let i = 0; i < 2; i++) h ^= sumWords(at, words) + readWord(at, i);
    return h;
  }

  parse(at: usize, words: i32): u32 {
    let total: u32 = 0;
    for (let round = 0; round < 2; round++) total += this.header(at, words) + sumWords(at, 1) + readWord(at, round);
    return total;
  }

  // A second caller of header(), so that it stays a function of its own.
  peek(at: usize): u32 {
    let h: u32 = 0;
    for (let i = 0; i < 3; i++) h += this.header(at, 1) >> <u32>i;
    return h;
  }
}

function recurse(n: i32): i32 {
  let s = 0;
  for (let i = 0; i < 2; i++) s += n > 0 ? recurse(n + 1) : 0;
  return s + n;
}

export function main(): void {
  mode = appArgs().trim();
  if (mode.length == 0) mode = "oob";
  log("deep-trap: " + mode);
  const p = new Parser();
  const local = new StaticArray<u8>(64);
  log("warm-up " + p.parse(changetype<usize>(local), 2).toString() + " " + p.peek(changetype<usize>(local)).toString());
  if (mode == "recurse") log("recurse " + recurse(1).toString());
  const at: usize = mode == "null" ? 0 : mode == "oob" ? <usize>memory.size() << 16 : changetype<usize>(local);
  log("parsed " + p.parse(at, 8).toString());
}
