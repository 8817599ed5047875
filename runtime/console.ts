// The guest console: bytes go into the PV console ring's `out` half
// (abi/console.ts) and xenconsoled is told through the console event
// channel; the initial domain (no ring) uses HYPERVISOR_console_io.
// A full ring waits (bounded) for the backend to drain it, so output is
// not lost while xenconsoled keeps up, and never hangs the guest if it
// does not: then output is dropped (and counted) until it reads again.
import { fence } from "./host";
import * as C from "./abi/console";
import { consoleIoWrite, schedYield } from "./hypercall";
import { notify } from "./events";
import { startInfo } from "./start_info";

// How many yields to wait for xenconsoled before giving up on a full ring.
const DRAIN_SPINS = 100000;
// Set when a wait for the backend timed out: later writes then drop what
// does not fit at once instead of waiting again, until the backend reads.
let backendStalled = false;
let droppedBytes: u64 = 0;

// Bytes dropped because the console backend stopped reading.
export function consoleDroppedBytes(): u64 {
  return droppedBytes;
}

function ringPage(): usize {
  const si = startInfo();
  return si.isInitialDomain ? 0 : si.consolePage;
}

function outSpace(ring: usize): u32 {
  return C.XENCONS_OUT_SIZE - (load<u32>(ring + C.XENCONS_OUT_PROD) - load<u32>(ring + C.XENCONS_OUT_CONS));
}

// Writes `len` bytes at `ptr` to the console. Returns the number written
// (less than len only if the backend stopped reading).
export function consoleWrite(ptr: usize, len: i32): i32 {
  const ring = ringPage();
  if (ring == 0) {
    consoleIoWrite(ptr, len);
    return len;
  }
  const port = startInfo().consoleEvtchn;
  let done = 0;
  let spins = 0;
  while (done < len) {
    let space = outSpace(ring);
    if (space == 0) {
      if (backendStalled || ++spins > DRAIN_SPINS) {
        backendStalled = true;
        droppedBytes += <u64>(len - done);
        break;
      }
      notify(port);
      schedYield();
      continue;
    }
    backendStalled = false;
    let prod = load<u32>(ring + C.XENCONS_OUT_PROD);
    while (space > 0 && done < len) {
      store<u8>(ring + C.XENCONS_OUT + (prod & (C.XENCONS_OUT_SIZE - 1)), load<u8>(ptr + done));
      prod++;
      done++;
      space--;
    }
    fence(); // the bytes must be visible before the index that publishes them
    store<u32>(ring + C.XENCONS_OUT_PROD, prod);
    notify(port);
  }
  return done;
}

// Waits (bounded) until xenconsoled has read everything written so far.
export function consoleFlush(): void {
  const ring = ringPage();
  if (ring == 0 || backendStalled) return;
  const port = startInfo().consoleEvtchn;
  for (let spins = 0; spins < DRAIN_SPINS; spins++) {
    if (load<u32>(ring + C.XENCONS_OUT_CONS) == load<u32>(ring + C.XENCONS_OUT_PROD)) return;
    notify(port);
    schedYield();
  }
}
