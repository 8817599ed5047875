// The frontend's side of a shared I/O ring (xen/include/public/io/ring.h),
// payload-agnostic: slot addresses, request publishing with the notify
// hold-off rule (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY) and response
// consumption with the final re-check (RING_FINAL_CHECK_FOR_RESPONSES).
// The backend's indices are never trusted: a producer more than a ring
// ahead of us is reported, not followed.
import { fence } from "../runtime/host";
import * as R from "../runtime/abi/ring";

export class FrontRing {
  reqProdPvt: u32 = 0;   // requests written but not yet published
  rspCons: u32 = 0;      // responses consumed
  constructor(public page: usize, public size: u32, public slotSize: u32) {}

  // SHARED_RING_INIT + FRONT_RING_INIT
  init(): void {
    memory.fill(this.page, 0, 4096);
    store<u32>(this.page + R.SRING_REQ_EVENT, 1);
    store<u32>(this.page + R.SRING_RSP_EVENT, 1);
    this.reqProdPvt = 0;
    this.rspCons = 0;
  }

  slot(index: u32): usize {
    return this.page + R.SRING_RING + <usize>((index & (this.size - 1)) * this.slotSize);
  }

  // Free request slots: requests not yet answered occupy the ring.
  freeRequests(): u32 {
    return this.size - (this.reqProdPvt - this.rspCons);
  }

  // Publishes written requests; returns whether the backend must be notified.
  pushRequests(): bool {
    const old = load<u32>(this.page + R.SRING_REQ_PROD);
    const now = this.reqProdPvt;
    fence(); // requests visible before the producer index
    store<u32>(this.page + R.SRING_REQ_PROD, now);
    fence(); // producer index visible before we read req_event
    return now - load<u32>(this.page + R.SRING_REQ_EVENT) < now - old;
  }

  // The backend's response producer, or -1 if it claims more responses
  // than there can be outstanding requests.
  responseProducer(): i64 {
    const prod = load<u32>(this.page + R.SRING_RSP_PROD);
    fence(); // read the index before the slots it covers
    return prod - this.rspCons > this.reqProdPvt - this.rspCons ? -1 : <i64>prod;
  }

  // After consuming everything: ask for an event on the next response and
  // re-check, so a response that arrived meanwhile is not missed.
  finalCheckForResponses(): bool {
    store<u32>(this.page + R.SRING_RSP_EVENT, this.rspCons + 1);
    fence();
    return load<u32>(this.page + R.SRING_RSP_PROD) != this.rspCons;
  }
}
