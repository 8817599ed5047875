// Shared I/O rings (xen/include/public/io/ring.h): one page holding a
// header and a power-of-two array of request/response slots (a slot holds
// either). Indices are free-running u32s: the producer of requests is the
// frontend, of responses the backend. *_event fields ask the other side to
// notify once its producer passes them ("hold-off").
//
//   0 req_prod   4 req_event   8 rsp_prod   12 rsp_event   16 pvt   20 pad[44]
//  64 ring[nr_ents]
export const SRING_REQ_PROD = 0;
export const SRING_REQ_EVENT = 4;
export const SRING_RSP_PROD = 8;
export const SRING_RSP_EVENT = 12;
export const SRING_RING = 64;
