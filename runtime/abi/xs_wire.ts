// The xenstore wire protocol (xen/include/public/io/xs_wire.h): message
// types, the 16-byte message header, the shared ring page, and the error
// strings xenstored sends in XS_ERROR replies.

// enum xsd_sockmsg_type
export const XS_CONTROL = 0;
export const XS_DIRECTORY = 1;
export const XS_READ = 2;
export const XS_GET_PERMS = 3;
export const XS_WATCH = 4;
export const XS_UNWATCH = 5;
export const XS_TRANSACTION_START = 6;
export const XS_TRANSACTION_END = 7;
export const XS_INTRODUCE = 8;
export const XS_RELEASE = 9;
export const XS_GET_DOMAIN_PATH = 10;
export const XS_WRITE = 11;
export const XS_MKDIR = 12;
export const XS_RM = 13;
export const XS_SET_PERMS = 14;
export const XS_WATCH_EVENT = 15;
export const XS_ERROR = 16;
export const XS_IS_DOMAIN_INTRODUCED = 17;
export const XS_RESUME = 18;
export const XS_SET_TARGET = 19;
export const XS_RESET_WATCHES = 21;
export const XS_DIRECTORY_PART = 22;
export const XS_INVALID = 0xffff;

// struct xsd_sockmsg { u32 type, req_id, tx_id, len; } followed by len payload bytes
export const XSD_SOCKMSG_TYPE = 0;
export const XSD_SOCKMSG_REQ_ID = 4;
export const XSD_SOCKMSG_TX_ID = 8;
export const XSD_SOCKMSG_LEN = 12;
export const XSD_SOCKMSG_SIZE = 16;

export const XENSTORE_PAYLOAD_MAX = 4096;
export const XENSTORE_ABS_PATH_MAX = 3072;
export const XENSTORE_REL_PATH_MAX = 2048;

// struct xenstore_domain_interface: two byte rings with free-running u32
// indices (MASK_XENSTORE_IDX = idx & (XENSTORE_RING_SIZE - 1)).
export const XENSTORE_RING_SIZE = 1024;
export const XS_RING_REQ = 0;
export const XS_RING_RSP = 1024;
export const XS_RING_REQ_CONS = 2048;
export const XS_RING_REQ_PROD = 2052;
export const XS_RING_RSP_CONS = 2056;
export const XS_RING_RSP_PROD = 2060;
export const XS_RING_SERVER_FEATURES = 2064;
export const XS_RING_CONNECTION = 2068;

export const XENSTORE_CONNECTED = 0;
export const XENSTORE_RECONNECT = 1;

// Permission letters in XS_GET_PERMS / XS_SET_PERMS ("<letter><domid>").
export const XS_PERM_NONE = "n";
export const XS_PERM_READ = "r";
export const XS_PERM_WRITE = "w";
export const XS_PERM_BOTH = "b";
