/* Freestanding <assert.h>: a failed assertion in generated code panics the guest. */
#ifndef TSXEN_ASSERT_H
#define TSXEN_ASSERT_H
__attribute__((noreturn)) void tsxen_assert_fail(const char *expr, const char *file, int line);
#define assert(e) ((e) ? (void)0 : tsxen_assert_fail(#e, __FILE__, __LINE__))
#endif
