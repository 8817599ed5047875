// The netif protocol (xen/include/public/io/netif.h): TX and RX ring slots,
// their flags, status codes and extra-info slots. Note the flag bits differ
// by direction: TX csum_blank is bit 0, RX csum_blank is bit 1.

// struct netif_tx_request { grant_ref_t gref; uint16_t offset, flags, id, size; }
export const NETIF_TX_REQ_GREF = 0;
export const NETIF_TX_REQ_OFFSET = 4;
export const NETIF_TX_REQ_FLAGS = 6;
export const NETIF_TX_REQ_ID = 8;
export const NETIF_TX_REQ_SIZE = 10;
export const NETIF_TX_REQUEST_SIZE = 12;
// struct netif_tx_response { uint16_t id; int16_t status; }
export const NETIF_TX_RSP_ID = 0;
export const NETIF_TX_RSP_STATUS = 2;
export const NETIF_TX_RESPONSE_SIZE = 4;

// struct netif_rx_request { uint16_t id; uint16_t pad; grant_ref_t gref; }
export const NETIF_RX_REQ_ID = 0;
export const NETIF_RX_REQ_GREF = 4;
export const NETIF_RX_REQUEST_SIZE = 8;
// struct netif_rx_response { uint16_t id, offset, flags; int16_t status; }
export const NETIF_RX_RSP_ID = 0;
export const NETIF_RX_RSP_OFFSET = 2;
export const NETIF_RX_RSP_FLAGS = 4;
export const NETIF_RX_RSP_STATUS = 6;
export const NETIF_RX_RESPONSE_SIZE = 8;

// struct netif_extra_info { uint8_t type, flags; union u (6 bytes) }
export const NETIF_EXTRA_TYPE = 0;
export const NETIF_EXTRA_FLAGS = 1;
export const NETIF_EXTRA_INFO_SIZE = 8;
export const XEN_NETIF_EXTRA_TYPE_NONE = 0;
export const XEN_NETIF_EXTRA_TYPE_GSO = 1;
export const XEN_NETIF_EXTRA_TYPE_MAX = 5;
export const XEN_NETIF_EXTRA_FLAG_MORE = 1;
// u.gso { uint16_t size; uint8_t type; uint8_t pad; uint16_t features; }
export const NETIF_EXTRA_GSO_SIZE = 2;
export const NETIF_EXTRA_GSO_TYPE = 4;
export const NETIF_EXTRA_GSO_FEATURES = 6;
export const XEN_NETIF_GSO_TYPE_NONE = 0;
export const XEN_NETIF_GSO_TYPE_TCPV4 = 1;

// TX flags (netif_tx_request.flags)
export const NETTXF_csum_blank = 1;
export const NETTXF_data_validated = 2;
export const NETTXF_more_data = 4;
export const NETTXF_extra_info = 8;
// RX flags (netif_rx_response.flags)
export const NETRXF_data_validated = 1;
export const NETRXF_csum_blank = 2;
export const NETRXF_more_data = 4;
export const NETRXF_extra_info = 8;
export const NETRXF_gso_prefix = 16;

// Response status (negative) or length (RX, >= 0)
export const NETIF_RSP_DROPPED = -2;
export const NETIF_RSP_ERROR = -1;
export const NETIF_RSP_OKAY = 0;
export const NETIF_RSP_NULL = 1;

// The slots per frame every backend must take (and the longest RX chain we
// accept), and the largest frame.
export const XEN_NETIF_NR_SLOTS_MIN = 18;
export const XEN_NETIF_MAX_TX_SIZE = 0xffff;

// Slots per ring page: __RING_SIZE = round_down_pow2((4096 - 64) / slot size).
export const NET_TX_RING_SIZE = 256;
export const NET_RX_RING_SIZE = 256;
