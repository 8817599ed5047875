// CRC-32 as zlib, Ethernet and busybox's `crc32` applet compute it
// (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF), so
// dom0 can check what a guest wrote with `busybox crc32 FILE`. Slicing by
// 8: eight 256-entry tables, eight bytes per step.
const TABLES = memory.data(8 * 256 * 4, 4);
let ready = false;

function init(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    store<u32>(TABLES + (<usize>n << 2), c);
  }
  // Table k: the CRC of byte n followed by k zero bytes.
  for (let n: u32 = 0; n < 256; n++) {
    let c = load<u32>(TABLES + (<usize>n << 2));
    for (let k: usize = 1; k < 8; k++) {
      c = load<u32>(TABLES + (<usize>(c & 0xff) << 2)) ^ (c >>> 8);
      store<u32>(TABLES + (k << 10) + (<usize>n << 2), c);
    }
  }
  ready = true;
}

function t(k: usize, b: u32): u32 {
  return load<u32>(TABLES + (k << 10) + (<usize>b << 2));
}

// Continues a CRC over `len` bytes at `ptr` (start with 0).
export function crc32Update(crc: u32, ptr: usize, len: usize): u32 {
  if (!ready) init();
  let c = ~crc;
  while (len >= 8) {
    const a = load<u32>(ptr) ^ c;
    const b = load<u32>(ptr, 4);
    c = t(7, a & 0xff) ^ t(6, (a >>> 8) & 0xff) ^ t(5, (a >>> 16) & 0xff) ^ t(4, a >>> 24) ^
        t(3, b & 0xff) ^ t(2, (b >>> 8) & 0xff) ^ t(1, (b >>> 16) & 0xff) ^ t(0, b >>> 24);
    ptr += 8;
    len -= 8;
  }
  while (len > 0) {
    c = t(0, (c ^ <u32>load<u8>(ptr)) & 0xff) ^ (c >>> 8);
    ptr++;
    len--;
  }
  return ~c;
}

// Eight lowercase hex digits, as `busybox crc32` prints them.
export function hex32(v: u32): string {
  let s = v.toString(16);
  while (s.length < 8) s = "0" + s;
  return s;
}
