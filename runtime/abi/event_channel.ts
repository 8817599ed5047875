// Event-channel operations (xen/include/public/event_channel.h) and the
// argument structs tsxen uses; HYPERVISOR_event_channel_op(cmd, &arg).
export const EVTCHNOP_bind_interdomain = 0;
export const EVTCHNOP_bind_virq = 1;
export const EVTCHNOP_close = 3;
export const EVTCHNOP_send = 4;
export const EVTCHNOP_status = 5;
export const EVTCHNOP_alloc_unbound = 6;
export const EVTCHNOP_unmask = 9;

// struct evtchn_alloc_unbound { domid_t dom, remote_dom; evtchn_port_t port (out); }
export const EVTCHN_ALLOC_UNBOUND_DOM = 0;
export const EVTCHN_ALLOC_UNBOUND_REMOTE_DOM = 2;
export const EVTCHN_ALLOC_UNBOUND_PORT = 4;
export const EVTCHN_ALLOC_UNBOUND_SIZE = 8;

// struct evtchn_bind_interdomain { domid_t remote_dom; evtchn_port_t remote_port, local_port (out); }
export const EVTCHN_BIND_INTERDOMAIN_REMOTE_DOM = 0;
export const EVTCHN_BIND_INTERDOMAIN_REMOTE_PORT = 4;
export const EVTCHN_BIND_INTERDOMAIN_LOCAL_PORT = 8;
export const EVTCHN_BIND_INTERDOMAIN_SIZE = 12;

// struct evtchn_bind_virq { uint32_t virq, vcpu; evtchn_port_t port (out); }
export const EVTCHN_BIND_VIRQ_VIRQ = 0;
export const EVTCHN_BIND_VIRQ_VCPU = 4;
export const EVTCHN_BIND_VIRQ_PORT = 8;
export const EVTCHN_BIND_VIRQ_SIZE = 12;

// struct evtchn_close / evtchn_send / evtchn_unmask { evtchn_port_t port; }
export const EVTCHN_PORT_ARG_SIZE = 4;

export const VIRQ_TIMER = 0;

// 2-level ABI: a port is bit (port % 64) of word (port / 64) of
// shared_info.evtchn_pending/evtchn_mask; EVTCHN_2L_NR_CHANNELS ports.
export const EVTCHN_2L_NR_CHANNELS = 4096;
export const DOMID_SELF = 0x7ff0;
export const NR_VIRQS = 24;
