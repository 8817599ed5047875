// struct xencons_interface (xen/include/public/io/console.h): the PV console
// ring page shared with xenconsoled. Two byte rings with free-running u32
// indices; index & (size - 1) is the position (sizes are powers of two).
//
//    0  in[1024]     backend -> guest
// 1024  out[2048]    guest -> backend
// 3072  in_cons, 3076 in_prod, 3080 out_cons, 3084 out_prod   (u32 each)
export const XENCONS_IN = 0;
export const XENCONS_IN_SIZE = 1024;
export const XENCONS_OUT = 1024;
export const XENCONS_OUT_SIZE = 2048;
export const XENCONS_IN_CONS = 3072;
export const XENCONS_IN_PROD = 3076;
export const XENCONS_OUT_CONS = 3080;
export const XENCONS_OUT_PROD = 3084;
export const XENCONS_SIZE = 3088;
