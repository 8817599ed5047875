// The guest side of the xenstore ring page (io/xs_wire.h
// struct xenstore_domain_interface): requests go out through `req`,
// replies and watch events come back through `rsp`. Indices are
// free-running u32s owned by one side each; xenstored's are not trusted.
import { fence } from "../runtime/host";
import * as XS from "../runtime/abi/xs_wire";

const MASK: u32 = <u32>XS.XENSTORE_RING_SIZE - 1;

// Bytes of request space free right now.
export function requestSpace(ring: usize): u32 {
  const used = load<u32>(ring + XS.XS_RING_REQ_PROD) - load<u32>(ring + XS.XS_RING_REQ_CONS);
  return used > <u32>XS.XENSTORE_RING_SIZE ? 0 : <u32>XS.XENSTORE_RING_SIZE - used;
}

// Copies up to `len` bytes into the request ring; returns how many fit.
export function writeRequest(ring: usize, src: usize, len: u32): u32 {
  const n = min(len, requestSpace(ring));
  let prod = load<u32>(ring + XS.XS_RING_REQ_PROD);
  for (let i: u32 = 0; i < n; i++) {
    store<u8>(ring + XS.XS_RING_REQ + (prod & MASK), load<u8>(src + i));
    prod++;
  }
  fence(); // the bytes before the index that publishes them
  store<u32>(ring + XS.XS_RING_REQ_PROD, prod);
  return n;
}

// Result of readResponse when xenstored's indices are impossible.
export const RING_BROKEN: i32 = -1;

// Copies up to `max` available reply bytes to `dst` and frees them in the
// ring. Returns the count, or RING_BROKEN if the producer is more than a
// ring ahead of us.
export function readResponse(ring: usize, dst: usize, max: u32): i32 {
  let cons = load<u32>(ring + XS.XS_RING_RSP_CONS);
  const prod = load<u32>(ring + XS.XS_RING_RSP_PROD);
  fence(); // read the index before the bytes it covers
  const avail = prod - cons;
  if (avail > <u32>XS.XENSTORE_RING_SIZE) return RING_BROKEN;
  const n = min(avail, max);
  for (let i: u32 = 0; i < n; i++) {
    store<u8>(dst + i, load<u8>(ring + XS.XS_RING_RSP + (cons & MASK)));
    cons++;
  }
  fence(); // done with the bytes before handing the space back
  store<u32>(ring + XS.XS_RING_RSP_CONS, cons);
  return <i32>n;
}
