/* SPDX-License-Identifier: MIT */
/*
 * The one header the protocol core may include.
 *
 * Everything the core needs from its host is named here: fixed-width
 * integers, the three memory primitives, byte order, atomics, a mutex, an
 * allocator used only on configuration and handshake paths, and the packet
 * buffer pool. `make freestanding` compiles src/core/ with -ffreestanding
 * -nostdinc and only this directory and src/crypto/crypto.h on the include
 * path, which proves the core can be dropped into a kernel or an embedded
 * stack: such a host provides this header's extern functions and nothing
 * else.
 */
#ifndef CWG_PLATFORM_H
#define CWG_PLATFORM_H

#if defined(CWG_FREESTANDING)
typedef __UINT8_TYPE__ uint8_t;
typedef __UINT16_TYPE__ uint16_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __UINT64_TYPE__ uint64_t;
typedef __INT8_TYPE__ int8_t;
typedef __INT16_TYPE__ int16_t;
typedef __INT32_TYPE__ int32_t;
typedef __INT64_TYPE__ int64_t;
typedef __UINTPTR_TYPE__ uintptr_t;
typedef __SIZE_TYPE__ size_t;
#define bool _Bool
#define true 1
#define false 0
#define NULL ((void *)0)
#define UINT64_MAX __UINT64_MAX__
#define UINT32_MAX __UINT32_MAX__
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#endif

#define cwg_memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define cwg_memmove(d, s, n) __builtin_memmove((d), (s), (n))
#define cwg_memset(d, c, n) __builtin_memset((d), (c), (n))
#define cwg_memcmp(a, b, n) __builtin_memcmp((a), (b), (n))

#define CWG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CWG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CWG_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CWG_CONTAINER_OF(p, type, member) \
	((type *)(void *)((char *)(p) - __builtin_offsetof(type, member)))

/* Byte order: the WireGuard wire format is little-endian. */
static inline uint16_t cwg_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t cwg_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static inline uint64_t cwg_get_le64(const uint8_t *p)
{
	return (uint64_t)cwg_get_le32(p) | (uint64_t)cwg_get_le32(p + 4) << 32;
}
static inline void cwg_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void cwg_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void cwg_put_le64(uint8_t *p, uint64_t v)
{
	cwg_put_le32(p, (uint32_t)v);
	cwg_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t cwg_get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t cwg_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline void cwg_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void cwg_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void cwg_put_be64(uint8_t *p, uint64_t v)
{
	cwg_put_be32(p, (uint32_t)(v >> 32));
	cwg_put_be32(p + 4, (uint32_t)v);
}

/* Curve25519 keys, preshared keys and session keys alike. */
#define CWG_KEY_LEN 32
#define CWG_HASH_LEN 32
#define CWG_NSEC_PER_SEC 1000000000ULL

/* Error codes: Linux's errno values, which the UAPI reports verbatim. */
#define CWG_ENOENT 2
#define CWG_ENOMEM 12
#define CWG_EEXIST 17
#define CWG_EINVAL 22
#define CWG_ENOSPC 28
#define CWG_EADDRINUSE 98
#define CWG_EPROTO 71

/* Atomics: the compiler's builtins, available freestanding. */
#define cwg_atomic_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define cwg_atomic_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define cwg_atomic_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define cwg_atomic_store_relaxed(p, v) \
	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define cwg_atomic_fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define cwg_atomic_add_relaxed(p, v) \
	((void)__atomic_fetch_add((p), (v), __ATOMIC_RELAXED))
#define cwg_atomic_sub_fetch(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_ACQ_REL)

/*
 * A sleeping mutex and a reader/writer lock, provided by the host
 * (pthreads in src/linux/platform.c). The storage is opaque here so the
 * core's structures keep a fixed layout in every host; 64 bytes covers
 * pthread_mutex_t (40) and pthread_rwlock_t (56) on Linux.
 */
struct cwg_mutex {
	uint64_t opaque[8];
};
struct cwg_rwlock {
	uint64_t opaque[8];
};
void cwg_mutex_init(struct cwg_mutex *m);
void cwg_mutex_destroy(struct cwg_mutex *m);
void cwg_mutex_lock(struct cwg_mutex *m);
void cwg_mutex_unlock(struct cwg_mutex *m);
void cwg_rwlock_init(struct cwg_rwlock *l);
void cwg_rwlock_destroy(struct cwg_rwlock *l);
void cwg_rwlock_rdlock(struct cwg_rwlock *l);
void cwg_rwlock_wrlock(struct cwg_rwlock *l);
void cwg_rwlock_unlock(struct cwg_rwlock *l);

/*
 * Lock assertions, the kernel's lockdep_assert_held: in builds with
 * CWG_DEBUG_LOCKS the host checks that the calling thread holds m (a
 * mutex) or holds l for writing, and stops the program if not; in other
 * builds they cost nothing. Every "under lock" rule of the core has one.
 */
#ifdef CWG_DEBUG_LOCKS
void cwg_mutex_assert_held(struct cwg_mutex *m);
void cwg_rwlock_assert_wrlocked(struct cwg_rwlock *l);
#define cwg_lock_assert_held(m) cwg_mutex_assert_held(m)
#define cwg_lock_assert_wrlocked(l) cwg_rwlock_assert_wrlocked(l)
#else
#define cwg_lock_assert_held(m) ((void)(m))
#define cwg_lock_assert_wrlocked(l) ((void)(l))
#endif

/*
 * Memory for configuration and handshakes (peers, trie nodes, keypairs).
 * Never called per data packet. cwg_zalloc returns zeroed memory or NULL.
 */
void *cwg_zalloc(size_t size);
void cwg_free(void *p);

/*
 * Packet buffers come from the host's pool. The core takes one only to emit
 * a control message (handshake, cookie reply, keepalive) and hands every
 * buffer it drops back with cwg_pkt_free. See struct cwg_pkt in device.h.
 */
struct cwg_pkt;
struct cwg_pkt *cwg_pkt_alloc(void);
void cwg_pkt_free(struct cwg_pkt *pkt);

#endif
