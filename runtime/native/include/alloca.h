/* Freestanding <alloca.h> for wasm2c output. */
#ifndef TSXEN_ALLOCA_H
#define TSXEN_ALLOCA_H
#define alloca __builtin_alloca
#endif
