/* SPDX-License-Identifier: MIT */
/* What the files of cwg.ko (kmod/) share. */
#ifndef CWG_KMOD_H
#define CWG_KMOD_H

/* Bytes after each packet's header (host.c): room for CWG_DATA_HEADROOM,
 * the largest control message (a 148-byte initiation) and the self-test's
 * small data packets. */
#define CWG_KMOD_PKT_CAP 256

/* Runs the known-answer vectors and the device pair through the kernel
 * backend (selftest.c). 0, or -EINVAL when anything failed. */
int cwg_selftest(void);

#endif
