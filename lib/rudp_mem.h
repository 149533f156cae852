/*
 * Allocator wrappers: every internal allocation goes through these so that a
 * per-object `rudp_mem` is honoured everywhere.
 */
#ifndef RUDP_MEM_H
#define RUDP_MEM_H

#include <rudp/rudp.h>

void *rudp_mem_malloc(const rudp_mem *mem, size_t size);
void *rudp_mem_calloc(const rudp_mem *mem, size_t nmemb, size_t size);
void *rudp_mem_realloc(const rudp_mem *mem, void *ptr, size_t size);
/* rudp_mem_free accepts ptr == NULL. */
void rudp_mem_free(const rudp_mem *mem, void *ptr);

#endif /* RUDP_MEM_H */
