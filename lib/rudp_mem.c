/*
 * Default allocator and the wrappers every module allocates through.
 */
#include "rudp_mem.h"

#include <stdlib.h>

static void *default_malloc(size_t size, void *user_data) {
  (void)user_data;
  return malloc(size);
}

static void default_free(void *ptr, void *user_data) {
  (void)user_data;
  free(ptr);
}

static void *default_calloc(size_t nmemb, size_t size, void *user_data) {
  (void)user_data;
  return calloc(nmemb, size);
}

static void *default_realloc(void *ptr, size_t size, void *user_data) {
  (void)user_data;
  return realloc(ptr, size);
}

static const rudp_mem mem_default = {NULL, default_malloc, default_free,
                                     default_calloc, default_realloc};

const rudp_mem *rudp_mem_default(void) { return &mem_default; }

void *rudp_mem_malloc(const rudp_mem *mem, size_t size) {
  return mem->malloc(size, mem->user_data);
}

void *rudp_mem_calloc(const rudp_mem *mem, size_t nmemb, size_t size) {
  return mem->calloc(nmemb, size, mem->user_data);
}

void *rudp_mem_realloc(const rudp_mem *mem, void *ptr, size_t size) {
  return mem->realloc(ptr, size, mem->user_data);
}

void rudp_mem_free(const rudp_mem *mem, void *ptr) {
  if (ptr) {
    mem->free(ptr, mem->user_data);
  }
}
