// xenstored's side of a guest's xenstore ring page: struct
// xenstore_domain_interface (xen/include/public/io/xs_wire.h, described in
// docs/misc/xenstore-ring.txt). The guest produces into `req` and consumes
// `rsp`; xenstored does the opposite. Indices are free-running u32s, masked
// with XENSTORE_RING_SIZE - 1 only to address bytes.
//
// The page is guest memory: its indices are read once per call and checked
// the way xenstored's check_indexes() does (domain.c), and an impossible
// pair (a producer more than a ring ahead) is reported to the caller, which
// drops the connection rather than trusting it.
import * as XS from "../runtime/abi/xs_wire.ts";

// Where the guest's page lives. The DataView may be replaced when wasm
// memory grows, so it is fetched afresh for every access.
export interface RingAccess {
  view(): DataView;
  offset: number;
}

const MASK = XS.XENSTORE_RING_SIZE - 1;

// Free-running indices may be up to XENSTORE_RING_SIZE apart, never more.
function distance(cons: number, prod: number): number | null {
  const used = (prod - cons) >>> 0;
  return used > XS.XENSTORE_RING_SIZE ? null : used;
}

// Takes up to `max` bytes from the request ring. null: the guest's indices
// are impossible.
export function takeRequestBytes(ring: RingAccess, max: number): Uint8Array | null {
  const v = ring.view();
  const base = ring.offset;
  const cons = v.getUint32(base + XS.XS_RING_REQ_CONS, true);
  const used = distance(cons, v.getUint32(base + XS.XS_RING_REQ_PROD, true));
  if (used === null) return null;
  const out = new Uint8Array(Math.min(used, max));
  for (let i = 0; i < out.length; i++) out[i] = v.getUint8(base + XS.XS_RING_REQ + ((cons + i) & MASK));
  v.setUint32(base + XS.XS_RING_REQ_CONS, (cons + out.length) >>> 0, true);
  return out;
}

// Puts as many of `bytes` as fit into the response ring and returns how
// many that was. null: the guest's indices are impossible.
export function putResponseBytes(ring: RingAccess, bytes: Uint8Array): number | null {
  const v = ring.view();
  const base = ring.offset;
  const prod = v.getUint32(base + XS.XS_RING_RSP_PROD, true);
  const used = distance(v.getUint32(base + XS.XS_RING_RSP_CONS, true), prod);
  if (used === null) return null;
  const n = Math.min(XS.XENSTORE_RING_SIZE - used, bytes.length);
  for (let i = 0; i < n; i++) v.setUint8(base + XS.XS_RING_RSP + ((prod + i) & MASK), bytes[i]);
  v.setUint32(base + XS.XS_RING_RSP_PROD, (prod + n) >>> 0, true);
  return n;
}

// xenstored advertises its optional protocol features in the page; this
// one offers none (no reconnection, no error field, no watch depth).
export function advertiseFeatures(ring: RingAccess, features: number): void {
  ring.view().setUint32(ring.offset + XS.XS_RING_SERVER_FEATURES, features >>> 0, true);
}
