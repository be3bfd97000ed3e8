/* Open-addressing hash map from tensor ids (int64, > 0) to dense slot
 * indices (int32).  The tape looks up every input of every recorded op here,
 * so lookups must be a few nanoseconds: linear probing over two parallel
 * arrays, power-of-two capacity, load factor kept at or below 1/2.
 * Key 0 marks an empty bucket (tensor ids start at 1).
 *
 * The newest run of consecutive keys put with consecutive values (key k+i ->
 * value v+i, i < run_len) is kept as those three numbers, not in the buckets:
 * a tape's outputs get consecutive slots and, in a chain of ops with nothing
 * else made between them, consecutive ids, so such outputs are never hashed
 * and a chain's input is found by one subtraction.  A put that does not extend
 * the run first moves the run into the buckets, then starts a new run with
 * its own key.  The run holds the newest value of each of its keys (a key
 * inside it is only put again after the run was moved out), so a get asks the
 * run first and the buckets only after; a bucket's older value for a key of
 * the run is never read. */
#ifndef TG_IDMAP_H
#define TG_IDMAP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"

typedef struct {
    int64_t *keys;
    int32_t *vals;
    size_t cap;   /* power of two, or 0 before the first insert */
    size_t len;   /* keys in the buckets (not counting the run) */
    int64_t run_key;   /* the run: run_key + i -> run_val + i for 0 <= i < run_len */
    int64_t run_len;
    int32_t run_val;
} tg_idmap;

static inline size_t tg_idmap_bucket(int64_t key, size_t mask) {
    /* Fibonacci hashing: ids are sequential, multiply to spread them. */
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 17) & mask;
}

static inline void tg_idmap_init(tg_idmap *m) {
    m->keys = NULL; m->vals = NULL; m->cap = 0; m->len = 0;
    m->run_key = 0; m->run_len = 0; m->run_val = 0;
}

/* Empty, keeping the buckets' storage: every key 0 again. */
static inline void tg_idmap_clear(tg_idmap *m) {
    if (m->cap) memset(m->keys, 0, m->cap * sizeof(int64_t));
    m->len = 0;
    m->run_key = 0; m->run_len = 0; m->run_val = 0;
}

static inline void tg_idmap_free(tg_idmap *m) {
    tg_big_free(m->keys, m->cap * sizeof(int64_t));
    tg_big_free(m->vals, m->cap * sizeof(int32_t));
    tg_idmap_init(m);
}

/* Slot of key, or -1 when absent. */
static inline int32_t tg_idmap_get(const tg_idmap *m, int64_t key) {
    uint64_t d = (uint64_t)key - (uint64_t)m->run_key;   /* wraps for a key below the run */
    if (d < (uint64_t)m->run_len) return m->run_val + (int32_t)d;
    if (m->cap == 0) return -1;
    size_t mask = m->cap - 1;
    size_t i = tg_idmap_bucket(key, mask);
    for (;;) {
        int64_t k = m->keys[i];
        if (k == key) return m->vals[i];
        if (k == 0) return -1;
        i = (i + 1) & mask;
    }
}

static int tg_idmap_grow(tg_idmap *m) {
    size_t new_cap = m->cap ? m->cap * 2 : 64;
    if (new_cap < m->cap || new_cap > ((size_t)1 << 40)) return -1;  /* overflow guard */
    int64_t *keys = (int64_t *)tg_big_alloc(new_cap * sizeof(int64_t), 1);
    int32_t *vals = (int32_t *)tg_big_alloc(new_cap * sizeof(int32_t), 0);
    if (!keys || !vals) {
        tg_big_free(keys, new_cap * sizeof(int64_t));
        tg_big_free(vals, new_cap * sizeof(int32_t));
        return -1;
    }
    size_t mask = new_cap - 1;
    for (size_t j = 0; j < m->cap; j++) {
        int64_t k = m->keys[j];
        if (k == 0) continue;
        size_t i = tg_idmap_bucket(k, mask);
        while (keys[i] != 0) i = (i + 1) & mask;
        keys[i] = k; vals[i] = m->vals[j];
    }
    tg_big_free(m->keys, m->cap * sizeof(int64_t));
    tg_big_free(m->vals, m->cap * sizeof(int32_t));
    m->keys = keys; m->vals = vals; m->cap = new_cap;
    return 0;
}

/* Insert or overwrite in the buckets only (the caller keeps the run right). */
static inline int tg_idmap_put_bucket(tg_idmap *m, int64_t key, int32_t val) {
    if ((m->len + 1) * 2 > m->cap && tg_idmap_grow(m) < 0) return -1;
    size_t mask = m->cap - 1;
    size_t i = tg_idmap_bucket(key, mask);
    while (m->keys[i] != 0 && m->keys[i] != key) i = (i + 1) & mask;
    if (m->keys[i] == 0) { m->keys[i] = key; m->len++; }
    m->vals[i] = val;
    return 0;
}

/* The run into the buckets, then a new run of key alone; -1 when memory ran
 * out (what was moved is in the buckets with the same values, the rest still
 * in the run: the map's contents unchanged, key not put). */
static int tg_idmap_put_new_run(tg_idmap *m, int64_t key, int32_t val) {
    while (m->run_len > 0) {
        if (tg_idmap_put_bucket(m, m->run_key, m->run_val) < 0) return -1;
        if (--m->run_len) { m->run_key++; m->run_val++; }
    }
    m->run_key = key; m->run_val = val; m->run_len = 1;
    return 0;
}

/* Insert or overwrite.  Returns 0, or -1 when memory ran out (map unchanged). */
static inline int tg_idmap_put(tg_idmap *m, int64_t key, int32_t val) {
    /* (in 64 bits: no overflow for any key or value) */
    if (m->run_len > 0 && (uint64_t)key - (uint64_t)m->run_key == (uint64_t)m->run_len
            && (int64_t)val - m->run_val == m->run_len) {
        m->run_len++;
        return 0;
    }
    return tg_idmap_put_new_run(m, key, val);
}

#endif
