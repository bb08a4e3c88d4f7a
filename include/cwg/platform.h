/* SPDX-License-Identifier: MIT */
/*
 * What every host of the WireGuard core provides, and the types it is
 * written in. The core needs nothing else from its host: locks, memory
 * for configuration and handshakes, and packet buffers. libcwg brings a
 * POSIX implementation of all of them (pthreads, calloc, a recycling
 * packet allocator the host may replace with cwg_set_pkt_allocator); a
 * kernel or embedded host compiles the core with its own.
 *
 * Freestanding-clean: with CWG_FREESTANDING defined it includes nothing,
 * so the core builds with -ffreestanding -nostdinc (`make freestanding`).
 * With CWG_KERNEL (the Linux module, kmod/) the types come from the
 * kernel's own <linux/types.h>: its uint64_t is unsigned long long where
 * the compiler's __UINT64_TYPE__ is unsigned long, and it makes bool,
 * true and false a typedef and an enum, so the freestanding block would
 * clash with any kernel header in the same file.
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
#elif defined(CWG_KERNEL)
#include <linux/types.h>
#include <linux/stddef.h>
#ifndef UINT64_MAX
#define UINT64_MAX __UINT64_MAX__
#endif
#ifndef UINT32_MAX
#define UINT32_MAX __UINT32_MAX__
#endif
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#endif

/* What libcwg exports; everything else in it is hidden. */
#if defined(CWG_BUILDING_LIBRARY) && !defined(CWG_FREESTANDING)
#define CWG_EXPORT __attribute__((visibility("default")))
#else
#define CWG_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Curve25519 keys, preshared keys and session keys alike. */
#define CWG_KEY_LEN 32

/*
 * Errors: functions that can fail return 0 or one of these, negated
 * (Linux's errno values, which the UAPI reports verbatim); checks that
 * pass or fail return bool; packet paths count an enum cwg_drop.
 */
#define CWG_ENOENT 2
#define CWG_ENOMEM 12
#define CWG_EEXIST 17
#define CWG_ENODEV 19
#define CWG_EINVAL 22
#define CWG_ENOSPC 28
#define CWG_EADDRINUSE 98
#define CWG_EPROTO 71

/*
 * A sleeping mutex and a reader/writer lock, provided by the host
 * (pthreads in libcwg's POSIX host, src/posix/host.c). The storage is
 * opaque here so the core's structures keep a fixed layout in every host;
 * 64 bytes covers pthread_mutex_t (40) and pthread_rwlock_t (56) on Linux
 * with room for the owner that CWG_DEBUG_LOCKS builds track.
 */
struct cwg_mutex {
	uint64_t opaque[8];
};
struct cwg_rwlock {
	uint64_t opaque[8];
};
CWG_EXPORT void cwg_mutex_init(struct cwg_mutex *m);
CWG_EXPORT void cwg_mutex_destroy(struct cwg_mutex *m);
CWG_EXPORT void cwg_mutex_lock(struct cwg_mutex *m);
CWG_EXPORT void cwg_mutex_unlock(struct cwg_mutex *m);
CWG_EXPORT void cwg_rwlock_init(struct cwg_rwlock *l);
CWG_EXPORT void cwg_rwlock_destroy(struct cwg_rwlock *l);
CWG_EXPORT void cwg_rwlock_rdlock(struct cwg_rwlock *l);
CWG_EXPORT void cwg_rwlock_wrlock(struct cwg_rwlock *l);
CWG_EXPORT void cwg_rwlock_unlock(struct cwg_rwlock *l);

/*
 * Lock assertions, the kernel's lockdep_assert_held: in builds with
 * CWG_DEBUG_LOCKS the host checks that the calling thread holds m (a
 * mutex) or holds l for writing, and stops the program if not; in other
 * builds they cost nothing. Every "under lock" rule of the core has one.
 */
#ifdef CWG_DEBUG_LOCKS
CWG_EXPORT void cwg_mutex_assert_held(struct cwg_mutex *m);
CWG_EXPORT void cwg_rwlock_assert_wrlocked(struct cwg_rwlock *l);
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
CWG_EXPORT void *cwg_zalloc(size_t size);
CWG_EXPORT void cwg_free(void *p);

/*
 * Packet buffers come from the host's pool. The core takes one only to emit
 * a control message (handshake, cookie reply, keepalive) and hands every
 * buffer it drops back with cwg_pkt_free. See struct cwg_pkt in
 * <cwg/cwg.h>; both may be called from any thread.
 */
struct cwg_pkt;
CWG_EXPORT struct cwg_pkt *cwg_pkt_alloc(void);
CWG_EXPORT void cwg_pkt_free(struct cwg_pkt *pkt);

#ifdef __cplusplus
}
#endif

#endif
