/* Entry points that Rust's ThreadSanitizer instrumentation (LLVM) calls
   and GCC 12's libtsan does not define.  In this program, built with
   -fsanitize=thread, libtsan intercepts memcpy, memmove and memset, which
   checks the ranges as the LLVM runtime's own entry points would.  */
#include <string.h>

void *__tsan_memcpy (void *dst, const void *src, size_t n);
void *__tsan_memmove (void *dst, const void *src, size_t n);
void *__tsan_memset (void *dst, int c, size_t n);

void *__tsan_memcpy (void *dst, const void *src, size_t n)
{
  return memcpy (dst, src, n);
}

void *__tsan_memmove (void *dst, const void *src, size_t n)
{
  return memmove (dst, src, n);
}

void *__tsan_memset (void *dst, int c, size_t n)
{
  return memset (dst, c, n);
}
