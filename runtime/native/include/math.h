/* Freestanding <math.h> for wasm2c output: every function maps to a gcc
 * builtin, which on x86-64 compiles to SSE2/x87 instructions, not libm calls. */
#ifndef TSXEN_MATH_H
#define TSXEN_MATH_H
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf(x)
#define signbit(x) __builtin_signbit(x)
#define fabs __builtin_fabs
#define fabsf __builtin_fabsf
#define sqrt __builtin_sqrt
#define sqrtf __builtin_sqrtf
#define ceil __builtin_ceil
#define ceilf __builtin_ceilf
#define floor __builtin_floor
#define floorf __builtin_floorf
#define trunc __builtin_trunc
#define truncf __builtin_truncf
#define nearbyint __builtin_nearbyint
#define nearbyintf __builtin_nearbyintf
#define copysign __builtin_copysign
#define copysignf __builtin_copysignf
#define fmin __builtin_fmin
#define fminf __builtin_fminf
#define fmax __builtin_fmax
#define fmaxf __builtin_fmaxf
#define rint __builtin_rint
#define rintf __builtin_rintf
#endif
