/* Freestanding <setjmp.h>: wasm-rt.h names jmp_buf for exception handling,
 * which AssemblyScript modules never use; setjmp/longjmp are not provided. */
#ifndef TSXEN_SETJMP_H
#define TSXEN_SETJMP_H
typedef long jmp_buf[8];
#endif
