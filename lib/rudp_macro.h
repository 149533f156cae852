/*
 * Small helper macros shared by every module.
 */
#ifndef RUDP_MACRO_H
#define RUDP_MACRO_H

#ifdef HAVE_CONFIG_H
#  include <config.h>
#endif

#include <stddef.h>

/* rudp_min/rudp_max evaluate their arguments twice: no side effects. */
#define rudp_min(A, B) ((A) < (B) ? (A) : (B))
#define rudp_max(A, B) ((A) > (B) ? (A) : (B))

/* rudp_arraylen is the element count of a true array (not a pointer). */
#define rudp_arraylen(A) (sizeof(A) / sizeof((A)[0]))

/* rudp_struct_of gives the enclosing struct of a member pointer. */
#define rudp_struct_of(PTR, TYPE, MEMBER)                                     \
  ((TYPE *)(void *)((char *)(PTR) - offsetof(TYPE, MEMBER)))

#if defined(__GNUC__)
#  define rudp_likely(X) __builtin_expect(!!(X), 1)
#  define rudp_unlikely(X) __builtin_expect(!!(X), 0)
#else
#  define rudp_likely(X) (X)
#  define rudp_unlikely(X) (X)
#endif

#endif /* RUDP_MACRO_H */
