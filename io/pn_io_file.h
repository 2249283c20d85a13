/* SPDX-License-Identifier: MIT */
/*
 * io/: files through the shard's io_uring. Part of pn_io.h, which includes it:
 * include that one.
 */
#ifndef PN_IO_FILE_H
#define PN_IO_FILE_H

#include "pn_io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- files ------------------------------------------------------------ */

/*
 * Open @path (copied) with open(2) @flags and @mode; PN_MSG_IO_FILE (op
 * OPEN, res 0 or -errno; on failure the handle is gone) follows. Uses the
 * shard's registered file table when it has one (no fd lookups per op).
 * Returns 0 and *out, -EMFILE, -ENOMEM. Handler.
 */
PN_API int pn_io_file_open(struct pn_ctx *ctx, const char *path, int flags,
			   unsigned mode, uint64_t udata, pn_io_handle *out);

/*
 * Read / write @len bytes at offset @off; PN_MSG_IO_FILE (op READ/WRITE,
 * res bytes or -errno, ev.data = @buf) follows. @buf is lent to the kernel
 * until then. Operations on one file may run concurrently, like
 * pread/pwrite; wait for a write's FILE before its fsync. A @buf from
 * pn_io_file_buf_get() uses the registered-buffer path (READ_FIXED).
 * Returns 0, -EBADF, -EXDEV, -EINVAL. Handler.
 */
PN_API int pn_io_file_read(struct pn_ctx *ctx, pn_io_handle h, void *buf,
			   uint32_t len, uint64_t off);
PN_API int pn_io_file_write(struct pn_ctx *ctx, pn_io_handle h, const void *buf,
			    uint32_t len, uint64_t off);

/* fsync (@datasync: fdatasync); PN_MSG_IO_FILE (op FSYNC) follows. */
PN_API int pn_io_file_fsync(struct pn_ctx *ctx, pn_io_handle h, bool datasync);

/*
 * A registered buffer of file_buf_size bytes (NULL: none left, or
 * file_bufs is 0), and its return. Handler (the same shard).
 */
PN_API void *pn_io_file_buf_get(struct pn_ctx *ctx);
PN_API void pn_io_file_buf_put(struct pn_ctx *ctx, void *buf);

#ifdef __cplusplus
}
#endif
#endif /* PN_IO_FILE_H */
