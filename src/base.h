/* SPDX-License-Identifier: MIT */
/*
 * The freestanding base that src/core, src/crypto and libcwg's other
 * files share: the host interface (<cwg/platform.h>), the compiler's
 * memory builtins, byte order, atomics and a few macros. Not installed.
 */
#ifndef CWG_BASE_H
#define CWG_BASE_H

#include <cwg/platform.h>

#define CWG_NSEC_PER_SEC 1000000000ULL
#define CWG_HASH_LEN 32

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

#endif
