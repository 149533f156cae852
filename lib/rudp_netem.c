/*
 * rudp_netem.c: the impairment queue (rudp_netem.h).
 */
#include "rudp_netem.h"

#include <string.h>

#include "rudp_macro.h"
#include "rudp_mem.h"

/* NE_SLOT_MIN is the smallest slot buffer: most datagrams fit, so a slot
 * rarely grows after its first use. */
#define NE_SLOT_MIN 2048
/* NE_MAX_TIME bounds delay and jitter. */
#define NE_MAX_TIME (60 * RUDP_SECONDS)
/* NE_RATE_MIN, NE_RATE_MAX bound rate (bits per second). */
#define NE_RATE_MIN 8000ULL
#define NE_RATE_MAX 1000000000000ULL
/* NE_INT_MAX bounds the integer part of a number, so that its value in
 * billionths fits in 64 bits. */
#define NE_INT_MAX 10000000000ULL
#define NE_BILLION 1000000000ULL
/* NE_QUEUE_PKTS_MAX, NE_QUEUE_BYTES_MAX bound the lab's queue= values. */
#define NE_QUEUE_PKTS_MAX 1000000ULL
#define NE_QUEUE_BYTES_MAX (1024ULL * 1048576ULL)

/* ------------------------------------------------------------ parse */

/* ne_lower folds an ASCII letter to lower case. */
static int ne_lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

static int ne_space(int c) { return c == ' ' || c == '\t'; }

/* ne_word_eq compares |p|[0, |n|) with the lower-case |w|, ignoring
 * case. */
static int ne_word_eq(const char *p, size_t n, const char *w) {
  size_t i;
  if (strlen(w) != n) {
    return 0;
  }
  for (i = 0; i < n; ++i) {
    if (ne_lower((unsigned char)p[i]) != w[i]) {
      return 0;
    }
  }
  return 1;
}

/*
 * ne_dec parses DEC at |*pp| into |*pint| (integer part, at most
 * NE_INT_MAX) and |*pfrac| (the fraction in billionths; digits past the
 * ninth are cut).  Returns 0, -1 (not a number) or -2 (too large).
 */
static int ne_dec(const char **pp, uint64_t *pint, uint64_t *pfrac) {
  const char *p = *pp;
  uint64_t iv = 0, fv = 0, scale = NE_BILLION / 10;
  int big = 0;

  if (*p < '0' || *p > '9') {
    return -1;
  }
  for (; *p >= '0' && *p <= '9'; ++p) {
    if (!big) {
      iv = iv * 10 + (uint64_t)(*p - '0');
      big = iv > NE_INT_MAX;
    }
  }
  if (*p == '.') {
    ++p;
    if (*p < '0' || *p > '9') {
      return -1;
    }
    for (; *p >= '0' && *p <= '9'; ++p) {
      fv += (uint64_t)(*p - '0') * scale;
      scale /= 10;
    }
  }
  *pp = p;
  if (big) {
    return -2;
  }
  *pint = iv;
  *pfrac = fv;
  return 0;
}

enum {
  NE_K_LOSS,
  NE_K_REORDER,
  NE_K_DUP,
  NE_K_CORRUPT,
  NE_K_DELAY,
  NE_K_JITTER,
  NE_K_RATE,
  NE_K_SEED,
  /* The lab keys, from NE_K_LAB on (rudp_netem_parse_lab only). */
  NE_K_BURST,
  NE_K_QUEUE,
  NE_K_N
};
#define NE_K_LAB NE_K_BURST

static const char *const ne_keys[NE_K_N] = {
    "loss",   "reorder", "dup",  "corrupt", "delay",
    "jitter", "rate",    "seed", "burst",   "queue"};

static const char *ne_value(rudp_netem_spec *spec, int k, const char **pp);

/* ne_burst_value parses burst's 2 to 4 PROBs joined by ':' from |*pp|.
 * Returns NULL or the error string. */
static const char *ne_burst_value(rudp_netem_spec *spec, const char **pp) {
  /* enter, exit, loss when bad, loss when good */
  uint32_t v[4] = {0, 0, RUDP_NETEM_PPB, 0};
  size_t i;
  for (i = 0; i < rudp_arraylen(v); ++i) {
    rudp_netem_spec one;
    const char *err;
    if (i > 0) {
      if (**pp != ':') {
        break;
      }
      ++*pp;
    }
    /* Each part is a PROB exactly as loss= takes it. */
    memset(&one, 0, sizeof(one));
    err = ne_value(&one, NE_K_LOSS, pp);
    if (err) {
      return err;
    }
    v[i] = one.loss;
  }
  if (i < 2) {
    return "bad burst";
  }
  spec->burst_enter = v[0];
  spec->burst_exit = v[1];
  spec->burst_loss_bad = v[2];
  spec->burst_loss_good = v[3];
  return NULL;
}

/* ne_queue_value parses queue's packet count or byte size from |*pp|.
 * Returns NULL or the error string. */
static const char *ne_queue_value(rudp_netem_spec *spec, const char **pp) {
  const char *p = *pp, *u;
  uint64_t n = 0, mult;
  size_t un;
  int big = 0;
  if (*p < '0' || *p > '9') {
    return "bad number";
  }
  for (; *p >= '0' && *p <= '9'; ++p) {
    if (!big) {
      n = n * 10 + (uint64_t)(*p - '0');
      big = n > NE_QUEUE_BYTES_MAX;
    }
  }
  u = p;
  while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
    ++p;
  }
  un = (size_t)(p - u);
  *pp = p;
  if (un == 0) {
    if (big || n < 1 || n > NE_QUEUE_PKTS_MAX) {
      return "queue out of range";
    }
    spec->queue_pkts = n;
    return NULL;
  }
  if (ne_word_eq(u, un, "b")) {
    mult = 1;
  } else if (ne_word_eq(u, un, "kb")) {
    mult = 1024;
  } else if (ne_word_eq(u, un, "mb")) {
    mult = 1048576;
  } else {
    return "bad unit";
  }
  if (big || n < 1 || n > NE_QUEUE_BYTES_MAX / mult) {
    return "queue out of range";
  }
  spec->queue_bytes = n * mult;
  return NULL;
}

/* ne_value parses the value of key |k| from |*pp| into |spec|.  Returns
 * NULL or the error string. */
static const char *ne_value(rudp_netem_spec *spec, int k, const char **pp) {
  const char *p = *pp, *u;
  uint64_t iv = 0, fv = 0;
  size_t un;
  int rv;

  if (k == NE_K_BURST) {
    return ne_burst_value(spec, pp);
  }
  if (k == NE_K_QUEUE) {
    return ne_queue_value(spec, pp);
  }
  if (k == NE_K_SEED) {
    uint64_t s = 0;
    if (*p < '0' || *p > '9') {
      return "bad number";
    }
    for (; *p >= '0' && *p <= '9'; ++p) {
      uint64_t d = (uint64_t)(*p - '0');
      if (s > (UINT64_MAX - d) / 10) {
        return "bad number";
      }
      s = s * 10 + d;
    }
    spec->seed = s;
    *pp = p;
    return NULL;
  }
  rv = ne_dec(&p, &iv, &fv);
  if (rv == -1) {
    return "bad number";
  }
  u = p;
  while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '%') {
    ++p;
  }
  un = (size_t)(p - u);
  *pp = p;

  switch (k) {
  case NE_K_LOSS:
  case NE_K_REORDER:
  case NE_K_DUP:
  case NE_K_CORRUPT: {
    /* v is the value in billionths: of a percent with "%", of 1 without. */
    uint64_t ppb;
    if (un == 1 && *u == '%') {
      if (rv == -2 || iv > 100) {
        return "probability above 100%";
      }
      ppb = (iv * NE_BILLION + fv) / 100;
    } else if (un == 0) {
      if (rv == -2 || iv > 1) {
        return "probability above 100%";
      }
      ppb = iv * NE_BILLION + fv;
    } else {
      return "bad unit";
    }
    if (ppb > RUDP_NETEM_PPB) {
      return "probability above 100%";
    }
    if (k == NE_K_LOSS) {
      spec->loss = (uint32_t)ppb;
    } else if (k == NE_K_REORDER) {
      spec->reorder = (uint32_t)ppb;
    } else if (k == NE_K_DUP) {
      spec->dup = (uint32_t)ppb;
    } else {
      spec->corrupt = (uint32_t)ppb;
    }
    return NULL;
  }
  case NE_K_DELAY:
  case NE_K_JITTER: {
    /* div turns billionths of the unit into nanoseconds. */
    uint64_t div, t;
    if (ne_word_eq(u, un, "s")) {
      div = 1;
    } else if (ne_word_eq(u, un, "ms")) {
      div = 1000;
    } else if (ne_word_eq(u, un, "us")) {
      div = 1000000;
    } else if (ne_word_eq(u, un, "ns")) {
      div = NE_BILLION;
    } else {
      return "bad unit";
    }
    if (rv == -2) {
      return "time above 60 s";
    }
    /* iv <= NE_INT_MAX, so iv * 1e9 still fits. */
    t = iv * (NE_BILLION / div) + fv / div;
    if (t > NE_MAX_TIME) {
      return "time above 60 s";
    }
    if (k == NE_K_DELAY) {
      spec->delay = t;
    } else {
      spec->jitter = t;
    }
    return NULL;
  }
  default: { /* NE_K_RATE */
    static const struct {
      const char *name;
      uint64_t mult; /* bits per second per unit */
    } units[] = {
        {"bit", 1}, {"kbit", 1000}, {"mbit", 1000000}, {"gbit", 1000000000},
        {"bps", 8}, {"kbps", 8000}, {"mbps", 8000000}, {"gbps", 8000000000ULL}};
    size_t i;
    uint64_t mult = 0, r;
    for (i = 0; i < rudp_arraylen(units); ++i) {
      if (ne_word_eq(u, un, units[i].name)) {
        mult = units[i].mult;
      }
    }
    if (mult == 0) {
      return "bad unit";
    }
    if (rv == -2 || iv > NE_RATE_MAX / mult) {
      return "rate out of range";
    }
    /* fv < 1e9 and mult <= 8e9: split to stay within 64 bits. */
    r = iv * mult + (fv / 1000) * (mult / 1000) / 1000 +
        (fv % 1000) * mult / NE_BILLION;
    if (r < NE_RATE_MIN || r > NE_RATE_MAX) {
      return "rate out of range";
    }
    spec->rate = r;
    return NULL;
  }
  }
}

/* ne_parse parses |str|; |lab| nonzero accepts the lab keys. */
static int ne_parse(rudp_netem_spec *spec, const char *str, const char **perr,
                    int lab) {
  const char *p = str, *err = NULL;
  unsigned seen = 0;

  memset(spec, 0, sizeof(*spec));
  spec->seed = 1;
  while (ne_space(*p)) {
    ++p;
  }
  while (*p != '\0') {
    const char *key = p;
    size_t kn;
    int k;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
      ++p;
    }
    kn = (size_t)(p - key);
    for (k = 0; k < NE_K_N; ++k) {
      if (ne_word_eq(key, kn, ne_keys[k])) {
        break;
      }
    }
    if (k == NE_K_N || (k >= NE_K_LAB && !lab)) {
      err = "unknown key";
      break;
    }
    if (seen & (1u << k)) {
      err = "duplicate key";
      break;
    }
    seen |= 1u << k;
    while (ne_space(*p)) {
      ++p;
    }
    if (*p != '=') {
      err = "missing '='";
      break;
    }
    ++p;
    while (ne_space(*p)) {
      ++p;
    }
    if (*p == ',' || *p == '\0') {
      err = "missing value";
      break;
    }
    err = ne_value(spec, k, &p);
    if (err) {
      break;
    }
    while (ne_space(*p)) {
      ++p;
    }
    if (*p == ',') {
      ++p;
      while (ne_space(*p)) {
        ++p;
      }
      if (*p == '\0') {
        err = "trailing garbage";
        break;
      }
    } else if (*p != '\0') {
      err = "trailing garbage";
      break;
    }
  }
  /* A queue exists only in front of a rate-limited link. */
  if (!err && (spec->queue_pkts || spec->queue_bytes) && !spec->rate) {
    err = "queue needs rate";
  }
  if (perr) {
    *perr = err;
  }
  return err ? RUDP_ERR_INVALID_ARGUMENT : 0;
}

int rudp_netem_parse_ex(rudp_netem_spec *spec, const char *str,
                        const char **perr) {
  return ne_parse(spec, str, perr, 0);
}

int rudp_netem_parse_lab(rudp_netem_spec *spec, const char *str,
                         const char **perr) {
  return ne_parse(spec, str, perr, 1);
}

int rudp_netem_parse(rudp_netem_spec *spec, const char *str) {
  return rudp_netem_parse_ex(spec, str, NULL);
}

int rudp_netem_spec_is_active(const rudp_netem_spec *spec) {
  return spec->loss || spec->reorder || spec->dup || spec->corrupt ||
         spec->delay || spec->jitter || spec->rate || spec->burst_enter ||
         spec->burst_loss_good;
}

/* ------------------------------------------------------------ queue */

/* ne_rand is splitmix64: tiny state, good enough statistics for
 * impairment decisions, and trivially reproducible. */
static uint64_t ne_rand(rudp_netem *ne) {
  uint64_t z = (ne->rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* ne_chance returns nonzero with probability |ppb| / 1e9.  It draws only
 * when the outcome is uncertain (the modulo bias, 2^64 mod 1e9 over 2^64,
 * is below 1e-10). */
static int ne_chance(rudp_netem *ne, uint32_t ppb) {
  if (ppb == 0) {
    return 0;
  }
  if (ppb >= RUDP_NETEM_PPB) {
    return 1;
  }
  return ne_rand(ne) % RUDP_NETEM_PPB < ppb;
}

/* ne_before orders heap entries by release time, then offer order. */
static int ne_before(const rudp_netem *ne, uint32_t a, uint32_t b) {
  const rudp_netem_slot *x = &ne->slots[a], *y = &ne->slots[b];
  return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

static void ne_heap_push(rudp_netem *ne, uint32_t idx) {
  size_t i = ne->nheap++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!ne_before(ne, idx, ne->heap[parent])) {
      break;
    }
    ne->heap[i] = ne->heap[parent];
    i = parent;
  }
  ne->heap[i] = idx;
}

static uint32_t ne_heap_pop(rudp_netem *ne) {
  uint32_t top = ne->heap[0], last = ne->heap[--ne->nheap];
  size_t i = 0, n = ne->nheap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) {
      break;
    }
    if (c + 1 < n && ne_before(ne, ne->heap[c + 1], ne->heap[c])) {
      ++c;
    }
    if (!ne_before(ne, ne->heap[c], last)) {
      break;
    }
    ne->heap[i] = ne->heap[c];
    i = c;
  }
  if (n > 0) {
    ne->heap[i] = last;
  }
  return top;
}

int rudp_netem_init(rudp_netem *ne, const rudp_netem_spec *spec,
                    size_t max_slots, const rudp_mem *mem) {
  size_t i;
  memset(ne, 0, sizeof(*ne));
  if (!spec || max_slots < 1 || max_slots > 0x80000000UL) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  ne->spec = *spec;
  ne->mem = mem ? mem : rudp_mem_default();
  ne->max_slots = max_slots;
  ne->slots = rudp_mem_calloc(ne->mem, max_slots, sizeof(*ne->slots));
  ne->free_ = rudp_mem_malloc(ne->mem, max_slots * sizeof(*ne->free_));
  ne->heap = rudp_mem_malloc(ne->mem, max_slots * sizeof(*ne->heap));
  if (!ne->slots || !ne->free_ || !ne->heap) {
    rudp_netem_free(ne);
    return RUDP_ERR_NOMEM;
  }
  if (spec->rate && (spec->queue_pkts || spec->queue_bytes)) {
    /* Every copy in the link's queue also holds a slot: max_slots
     * entries are enough. */
    ne->bl_end = rudp_mem_malloc(ne->mem, max_slots * sizeof(*ne->bl_end));
    ne->bl_len = rudp_mem_malloc(ne->mem, max_slots * sizeof(*ne->bl_len));
    if (!ne->bl_end || !ne->bl_len) {
      rudp_netem_free(ne);
      return RUDP_ERR_NOMEM;
    }
  }
  ne->max_bytes = RUDP_NETEM_MAX_BYTES;
  /* A stack, slot 0 on top: reused slots are the warm ones. */
  for (i = 0; i < max_slots; ++i) {
    ne->free_[i] = (uint32_t)(max_slots - 1 - i);
  }
  ne->nfree = max_slots;
  ne->rng = spec->seed;
  return 0;
}

void rudp_netem_free(rudp_netem *ne) {
  size_t i;
  if (!ne) {
    return;
  }
  if (ne->slots) {
    for (i = 0; i < ne->max_slots; ++i) {
      rudp_mem_free(ne->mem, ne->slots[i].data);
    }
  }
  rudp_mem_free(ne->mem, ne->slots);
  rudp_mem_free(ne->mem, ne->free_);
  rudp_mem_free(ne->mem, ne->heap);
  rudp_mem_free(ne->mem, ne->bl_end);
  rudp_mem_free(ne->mem, ne->bl_len);
  ne->bl_end = NULL;
  ne->bl_len = NULL;
  ne->bl_n = 0;
  ne->slots = NULL;
  ne->free_ = ne->heap = NULL;
  ne->nfree = ne->nheap = ne->max_slots = 0;
}

int rudp_netem_set_max_bytes(rudp_netem *ne, size_t max_bytes) {
  if (max_bytes == 0) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  ne->max_bytes = max_bytes;
  return 0;
}

/* ne_queue_full forgets the copies whose serialisation ended by |now| and
 * tells whether a |len|-byte copy finds the rate link's queue full. */
static int ne_queue_full(rudp_netem *ne, size_t len, rudp_tstamp now) {
  const rudp_netem_spec *sp = &ne->spec;
  while (ne->bl_n > 0 && ne->bl_end[ne->bl_head] <= now) {
    ne->bl_bytes -= ne->bl_len[ne->bl_head];
    ne->bl_head = (ne->bl_head + 1) % ne->max_slots;
    --ne->bl_n;
  }
  return ne->bl_n == ne->max_slots ||
         (sp->queue_pkts && ne->bl_n >= sp->queue_pkts) ||
         (sp->queue_bytes && ne->bl_bytes + len > sp->queue_bytes);
}

/* ne_enqueue queues one copy.  Returns nonzero if it was queued. */
static int ne_enqueue(rudp_netem *ne, const uint8_t *data, size_t len,
                      const struct sockaddr *to, socklen_t tolen,
                      rudp_tstamp now) {
  const rudp_netem_spec *sp = &ne->spec;
  rudp_netem_slot *s;
  rudp_tstamp at = now;
  rudp_duration d = sp->delay;
  uint32_t idx;

  if (ne->nfree == 0 || ne->bytes + len > ne->max_bytes) {
    ++ne->stats.dropped_queue;
    return 0;
  }
  if (sp->rate) {
    /* The link sends one datagram at a time: this one starts when the
     * backlog is through, and a backlog over a second is a full router
     * queue (drop-tail). */
    rudp_tstamp start = rudp_max(now, ne->link_free);
    if (ne->bl_end ? ne_queue_full(ne, len, now)
                   : start - now > RUDP_NETEM_MAX_BACKLOG) {
      ++ne->stats.dropped_queue;
      return 0;
    }
    ne->link_free =
        start + ((uint64_t)len * 8 * RUDP_SECONDS + sp->rate - 1) / sp->rate;
    at = ne->link_free;
    if (ne->bl_end) {
      size_t i = (ne->bl_head + ne->bl_n++) % ne->max_slots;
      ne->bl_end[i] = ne->link_free;
      ne->bl_len[i] = (uint32_t)len;
      ne->bl_bytes += len;
    }
  }
  if (sp->jitter) {
    uint64_t j = ne_rand(ne) % (2 * sp->jitter + 1);
    /* d = delay + j - jitter, never below zero. */
    d = d + j > sp->jitter ? d + j - sp->jitter : 0;
  }
  at += d;
  idx = ne->free_[ne->nfree - 1];
  s = &ne->slots[idx];
  if (s->cap < len) {
    size_t cap = rudp_max(len, (size_t)NE_SLOT_MIN);
    uint8_t *p = rudp_mem_realloc(ne->mem, s->data, cap);
    if (!p) {
      ++ne->stats.dropped_queue;
      return 0;
    }
    s->data = p;
    s->cap = cap;
  }
  --ne->nfree;
  if (ne_chance(ne, sp->reorder)) {
    /* Held back, outside the FIFO rule: later copies overtake it. */
    at += rudp_max(sp->delay, RUDP_MILLISECONDS);
    ++ne->stats.reordered;
  } else {
    /* Jitter alone does not reorder (a path's queue is FIFO). */
    at = rudp_max(at, ne->fifo_floor);
    ne->fifo_floor = at;
  }
  if (at > now) {
    ++ne->stats.delayed;
  }
  s->at = at;
  s->seq = ne->seq++;
  s->len = len;
  memcpy(s->data, data, len);
  memcpy(&s->to, to, tolen);
  s->tolen = tolen;
  if (ne_chance(ne, sp->corrupt)) {
    uint64_t bit = ne_rand(ne) % ((uint64_t)len * 8);
    s->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    ++ne->stats.corrupted;
  }
  ne->bytes += len;
  ne_heap_push(ne, idx);
  return 1;
}

/* ne_burst_lose moves the Gilbert-Elliott chain one step and tells
 * whether it loses this datagram: the loss follows the state the datagram
 * found, the move applies from the next one (as tc-netem's gemodel). */
static int ne_burst_lose(rudp_netem *ne) {
  const rudp_netem_spec *sp = &ne->spec;
  int lose;
  if (ne->burst_bad) {
    lose = ne_chance(ne, sp->burst_loss_bad);
    if (ne_chance(ne, sp->burst_exit)) {
      ne->burst_bad = 0;
    }
  } else {
    lose = ne_chance(ne, sp->burst_loss_good);
    if (ne_chance(ne, sp->burst_enter)) {
      ne->burst_bad = 1;
    }
  }
  return lose;
}

int rudp_netem_submit(rudp_netem *ne, const uint8_t *data, size_t len,
                      const struct sockaddr *to, socklen_t tolen,
                      rudp_tstamp now) {
  int copies;
  if (!data || len == 0 || len > RUDP_MAX_UDP_PAYLOAD || !to ||
      tolen > (socklen_t)sizeof(struct sockaddr_storage)) {
    return RUDP_ERR_INVALID_ARGUMENT;
  }
  ++ne->stats.offered;
  /* Only the lab's burst= draws here: other specs keep their sequence. */
  if ((ne->spec.burst_enter || ne->spec.burst_loss_good) && ne_burst_lose(ne)) {
    ++ne->stats.dropped_loss;
    ++ne->dropped_burst;
    return 0;
  }
  if (ne_chance(ne, ne->spec.loss)) {
    ++ne->stats.dropped_loss;
    return 0;
  }
  copies = 1;
  if (ne_chance(ne, ne->spec.dup)) {
    ++ne->stats.duplicated;
    copies = 2;
  }
  while (copies-- > 0) {
    ne_enqueue(ne, data, len, to, tolen, now);
  }
  return 0;
}

rudp_tstamp rudp_netem_next(const rudp_netem *ne) {
  return ne->nheap ? ne->slots[ne->heap[0]].at : RUDP_TSTAMP_MAX;
}

size_t rudp_netem_peek_len(const rudp_netem *ne, rudp_tstamp now) {
  if (ne->nheap == 0 || ne->slots[ne->heap[0]].at > now) {
    return 0;
  }
  return ne->slots[ne->heap[0]].len;
}

rudp_ssize rudp_netem_pop(rudp_netem *ne, rudp_tstamp now, uint8_t *dest,
                          size_t destlen, struct sockaddr_storage *to,
                          socklen_t *tolen) {
  rudp_netem_slot *s;
  uint32_t idx;
  if (ne->nheap == 0 || ne->slots[ne->heap[0]].at > now) {
    return 0;
  }
  s = &ne->slots[ne->heap[0]];
  if (s->len > destlen) {
    return RUDP_ERR_NOBUF;
  }
  idx = ne_heap_pop(ne);
  memcpy(dest, s->data, s->len);
  memset(to, 0, sizeof(*to));
  memcpy(to, &s->to, s->tolen);
  *tolen = s->tolen;
  ne->bytes -= s->len;
  ne->free_[ne->nfree++] = idx;
  ++ne->stats.sent;
  return (rudp_ssize)s->len;
}
