// Event channels as Xen implements them (xen/common/event_channel.c and
// event_2l.c; ABI in xen/include/public/event_channel.h, constants in
// runtime/abi/event_channel.ts): a port table per domain, the unbound ->
// interdomain handshake, virqs, send and close, and 2-level delivery into a
// guest's shared_info (runtime/abi/shared_info.ts).
//
// Functions return what the hypercall would: a port or 0, or a negative
// Xen errno, so the guest's hypercall handler passes them through unchanged.
import * as E from "../runtime/abi/event_channel.ts";
import * as S from "../runtime/abi/shared_info.ts";
import * as XEN from "../runtime/abi/xen.ts";


export type Channel =
  | { state: "reserved" }                                            // port 0
  | { state: "unbound"; remoteDom: number }                          // waiting for remoteDom to bind
  | { state: "interdomain"; remoteDom: number; remotePort: number }
  | { state: "virq"; virq: number };

// Where a domain's events land: shared_info bits for the guest, a pending
// set and run queue for dom0 (hypervisor.ts).
export interface EventSink {
  setPending(port: number): void;
  clearPending(port: number): void;
}

// A negative hypercall result as an exception, for dom0-side callers.
export class XenError extends Error {
  constructor(readonly errno: number, message: string) {
    super(`${message}: -${errno}`);
  }
}

// Throws XenError for a negative result, else returns it.
export function check(rc: number, what: string): number {
  if (rc < 0) throw new XenError(-rc, what);
  return rc;
}

class EventDomain {
  readonly ports = new Map<number, Channel>([[0, { state: "reserved" }]]);
  readonly virqs = new Map<number, number>(); // virq -> port
  constructor(readonly sink: EventSink) {}

  // Xen's get_free_port: the lowest port not in use.
  freePort(): number {
    for (let port = 1; port < E.EVTCHN_2L_NR_CHANNELS; port++) if (!this.ports.has(port)) return port;
    return -XEN.XEN_ENOSPC;
  }
}

export class EventChannels {
  private readonly domains = new Map<number, EventDomain>();

  addDomain(domid: number, sink: EventSink): void {
    this.domains.set(domid, new EventDomain(sink));
  }

  channel(domid: number, port: number): Channel | undefined {
    return this.domains.get(domid)?.ports.get(port);
  }

  // Ports in use (not counting reserved port 0), for leak checks.
  openPorts(domid: number): number[] {
    return [...(this.domains.get(domid)?.ports.keys() ?? [])].filter((p) => p !== 0).sort((a, b) => a - b);
  }

  // EVTCHNOP_alloc_unbound for domain `domid`. `at` picks the port (the
  // sim's domain builder uses it to honour start_info port numbers).
  allocUnbound(domid: number, remoteDom: number, at?: number): number {
    const d = this.domains.get(domid);
    if (!d) return -XEN.XEN_ESRCH;
    const port = at ?? d.freePort();
    if (port < 0) return port;
    if (d.ports.has(port)) return -XEN.XEN_EEXIST;
    d.ports.set(port, { state: "unbound", remoteDom });
    return port;
  }

  // EVTCHNOP_bind_interdomain: connects a new local port to `remotePort`,
  // which `remoteDom` must have allocated unbound for `domid`.
  bindInterdomain(domid: number, remoteDom: number, remotePort: number): number {
    const ld = this.domains.get(domid);
    const rd = this.domains.get(remoteDom);
    if (!ld || !rd) return -XEN.XEN_ESRCH;
    const remote = rd.ports.get(remotePort);
    if (remote?.state !== "unbound" || remote.remoteDom !== domid) return -XEN.XEN_EINVAL;
    const port = ld.freePort();
    if (port < 0) return port;
    ld.ports.set(port, { state: "interdomain", remoteDom, remotePort });
    rd.ports.set(remotePort, { state: "interdomain", remoteDom: domid, remotePort: port });
    // As Xen: notifications sent while the remote port was unbound were
    // dropped, so the new port conservatively starts pending.
    ld.sink.setPending(port);
    return port;
  }

  // EVTCHNOP_bind_virq (vCPU 0 only).
  bindVirq(domid: number, virq: number): number {
    const d = this.domains.get(domid);
    if (!d) return -XEN.XEN_ESRCH;
    if (virq < 0 || virq >= E.NR_VIRQS) return -XEN.XEN_EINVAL;
    if (d.virqs.has(virq)) return -XEN.XEN_EEXIST;
    const port = d.freePort();
    if (port < 0) return port;
    d.ports.set(port, { state: "virq", virq });
    d.virqs.set(virq, port);
    return port;
  }

  // EVTCHNOP_send: marks the peer's port pending. Sending on an unbound
  // port is silently dropped, as Xen does.
  send(domid: number, port: number): number {
    const chn = this.channel(domid, port);
    if (chn?.state === "unbound") return 0;
    if (chn?.state !== "interdomain") return -XEN.XEN_EINVAL;
    this.domains.get(chn.remoteDom)?.sink.setPending(chn.remotePort);
    return 0;
  }

  // Raises a virq (e.g. VIRQ_TIMER) if the domain has bound it.
  sendVirq(domid: number, virq: number): void {
    const d = this.domains.get(domid);
    const port = d?.virqs.get(virq);
    if (d && port !== undefined) d.sink.setPending(port);
  }

  // EVTCHNOP_close: frees the port; an interdomain peer falls back to
  // unbound (for this domain), so it may be bound again.
  close(domid: number, port: number): number {
    const d = this.domains.get(domid);
    const chn = d?.ports.get(port);
    if (!d || !chn || chn.state === "reserved") return -XEN.XEN_EINVAL;
    if (chn.state === "virq") d.virqs.delete(chn.virq);
    if (chn.state === "interdomain") {
      const rd = this.domains.get(chn.remoteDom);
      rd?.ports.set(chn.remotePort, { state: "unbound", remoteDom: domid });
    }
    d.ports.delete(port);
    // Xen's evtchn_free clears the pending bit so a re-bound port starts clean.
    d.sink.clearPending(port);
    return 0;
  }
}

// What the guest's vCPU is told about deliveries (scheduler hooks).
export interface VcpuWakeup {
  // vcpu_kick: evtchn_upcall_pending went 0 -> 1 (wakes SCHEDOP_block and poll).
  kick(): void;
  // evtchn_check_pollers: a port became pending (wakes a matching SCHEDOP_poll).
  portPending(port: number): void;
}

// The 2-level event ABI in a guest's shared_info page: bit `port` of
// evtchn_pending / evtchn_mask, bit `port / 64` of vcpu_info[0]
// evtchn_pending_sel, and evtchn_upcall_pending; exactly event_2l.c's order.
export class SharedInfoEvents implements EventSink {
  constructor(
    private readonly view: () => DataView,
    private readonly sharedInfo: number,
    private readonly vcpu: VcpuWakeup,
  ) {}

  setPending(port: number): void {
    if (this.testAndSet(S.SHARED_INFO_EVTCHN_PENDING, port)) return;
    if (!this.isMasked(port) && !this.testAndSet(S.VCPU_INFO_PENDING_SEL, port >> 6)) this.markEventsPending();
    this.vcpu.portPending(port);
  }

  clearPending(port: number): void {
    this.testAndClear(S.SHARED_INFO_EVTCHN_PENDING, port);
  }

  // EVTCHNOP_unmask: an event that arrived while masked is raised now.
  unmask(port: number): void {
    if (this.testAndClear(S.SHARED_INFO_EVTCHN_MASK, port) && this.isPending(port) &&
        !this.testAndSet(S.VCPU_INFO_PENDING_SEL, port >> 6)) this.markEventsPending();
  }

  isPending(port: number): boolean {
    return this.test(S.SHARED_INFO_EVTCHN_PENDING, port);
  }

  isMasked(port: number): boolean {
    return this.test(S.SHARED_INFO_EVTCHN_MASK, port);
  }

  private markEventsPending(): void {
    if (this.testAndSet(S.VCPU_INFO_UPCALL_PENDING, 0)) return;
    this.vcpu.kick();
  }

  // Bit arrays are little-endian u64 words, so bit n is bit n % 8 of byte n / 8.
  private test(offset: number, bit: number): boolean {
    return (this.view().getUint8(this.sharedInfo + offset + (bit >> 3)) & (1 << (bit & 7))) !== 0;
  }

  private testAndSet(offset: number, bit: number): boolean {
    const at = this.sharedInfo + offset + (bit >> 3);
    const v = this.view();
    const old = v.getUint8(at);
    v.setUint8(at, old | (1 << (bit & 7)));
    return (old & (1 << (bit & 7))) !== 0;
  }

  private testAndClear(offset: number, bit: number): boolean {
    const at = this.sharedInfo + offset + (bit >> 3);
    const v = this.view();
    const old = v.getUint8(at);
    v.setUint8(at, old & ~(1 << (bit & 7)));
    return (old & (1 << (bit & 7))) !== 0;
  }
}
