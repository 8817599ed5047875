/* Freestanding <stdlib.h>: wasm2c only needs abort(), which is a panic here. */
#ifndef TSXEN_STDLIB_H
#define TSXEN_STDLIB_H
#include <stddef.h>
__attribute__((noreturn)) void abort(void);
#endif
