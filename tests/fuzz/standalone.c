/*
 * Standalone driver for the fuzz targets, for builds without libFuzzer:
 * runs LLVMFuzzerTestOneInput once over each file named on the command
 * line and each file in each directory named (not recursive, in name
 * order), so `make check` replays the corpus and every saved regression
 * input with any compiler, under ASan in the sanitizer build and under
 * valgrind in scripts/valgrind-check.
 *
 * Prints "NAME: ran N inputs" and exits 0; a failing invariant aborts.
 */
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static size_t nran;

/* run_file feeds the whole of |path| to the target once. */
static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *data = NULL;
  size_t len = 0, cap = 0, n;

  if (!f) {
    fprintf(stderr, "standalone: %s: %s\n", path, strerror(errno));
    return -1;
  }
  for (;;) {
    if (len == cap) {
      uint8_t *p;
      cap = cap ? 2 * cap : 4096;
      p = realloc(data, cap);
      if (!p) {
        fprintf(stderr, "standalone: %s: out of memory\n", path);
        free(data);
        fclose(f);
        return -1;
      }
      data = p;
    }
    n = fread(data + len, 1, cap - len, f);
    if (n == 0) {
      break;
    }
    len += n;
  }
  if (ferror(f)) {
    fprintf(stderr, "standalone: %s: read error\n", path);
    free(data);
    fclose(f);
    return -1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(data, len);
  free(data);
  ++nran;
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* run_dir runs every regular file of |dir| except dotfiles, sorted. */
static int run_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char **names = NULL;
  size_t nnames = 0, cap = 0, i;
  int rv = 0;

  if (!d) {
    fprintf(stderr, "standalone: %s: %s\n", dir, strerror(errno));
    return -1;
  }
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') {
      continue;
    }
    if (nnames == cap) {
      char **p;
      cap = cap ? 2 * cap : 64;
      p = realloc(names, cap * sizeof(*names));
      if (!p) {
        rv = -1;
        break;
      }
      names = p;
    }
    names[nnames] = malloc(strlen(dir) + strlen(de->d_name) + 2);
    if (!names[nnames]) {
      rv = -1;
      break;
    }
    sprintf(names[nnames], "%s/%s", dir, de->d_name);
    ++nnames;
  }
  closedir(d);
  if (nnames) {
    qsort(names, nnames, sizeof(*names), cmp_names);
  }
  for (i = 0; i < nnames; ++i) {
    struct stat st;
    if (rv == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
      rv = run_file(names[i]);
    }
    free(names[i]);
  }
  free(names);
  return rv;
}

int main(int argc, char **argv) {
  const char *name = strrchr(argv[0], '/');
  int i;

  name = name ? name + 1 : argv[0];
  for (i = 1; i < argc; ++i) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "%s: %s: %s\n", name, argv[i], strerror(errno));
      return 2;
    }
    if ((S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i])) != 0) {
      return 1;
    }
  }
  printf("%s: ran %zu inputs\n", name, nran);
  return 0;
}
