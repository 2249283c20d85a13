// SPDX-License-Identifier: MIT
/*
 * Files through io/: a file written in three pieces, fsynced, read back
 * and compared, then closed (CLOSED); the same through the shard's
 * registered buffers (READ_FIXED/WRITE_FIXED); and an open that fails
 * (PN_MSG_IO_FILE, op OPEN, -ENOENT, and the handle is gone). Each step
 * waits for the previous one's message: operations on one file may run
 * concurrently, like pread/pwrite.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PIECE  4096
#define PIECES 3
#define C_DONE 1
#define C_FAIL -1

enum step { S_OPEN, S_WRITE, S_FSYNC, S_READ, S_CLOSE, S_END };

struct shared {
	char path[64];
	bool fixed;   /* use pn_io_file_buf_get() buffers */
	bool missing; /* open a file that does not exist */
	int open_res;
	unsigned closed;
	bool same; /* read back what was written */
	struct pn_io_stats st;
	char what[128];
};

struct filer {
	struct shared *sh;
	pn_io_handle f;
	int step;
	unsigned piece;
	unsigned char *out, *in;
	unsigned char own_out[PIECE * PIECES], own_in[PIECE * PIECES];
};

static int file_fail(struct filer *f, const char *what, int err)
{
	snprintf(f->sh->what, sizeof(f->sh->what), "%s: %s (%s)", what,
		 pn_io_strerror(err), pn_last_error());
	pn_runtime_notify(t_rt, C_FAIL);
	return 0;
}

/* Start step f->step (the previous one's FILE message has come). */
static int next(struct pn_ctx *ctx, struct filer *f)
{
	uint64_t off = (uint64_t)f->piece * PIECE;

	switch (f->step) {
	case S_WRITE:
		return pn_io_file_write(ctx, f->f, f->out + off, PIECE, off);
	case S_FSYNC:
		return pn_io_file_fsync(ctx, f->f, false);
	case S_READ:
		return pn_io_file_read(ctx, f->f, f->in, PIECE * PIECES, 0);
	case S_CLOSE:
		return pn_io_close(ctx, f->f);
	default:
		return 0;
	}
}

static int go(struct pn_ctx *ctx, struct filer *f)
{
	int flags = O_RDWR | O_CREAT | O_TRUNC, err;

	f->out = f->own_out;
	f->in = f->own_in;
	if (f->sh->fixed) { /* one registered buffer each way */
		f->out = pn_io_file_buf_get(ctx);
		f->in = pn_io_file_buf_get(ctx);
		if (!f->out || !f->in)
			return file_fail(f, "file_buf_get", -ENOMEM);
	}
	t_fill(f->out, PIECE * PIECES, 7, 0);
	memset(f->in, 0, PIECE * PIECES);
	err = pn_io_file_open(ctx, f->sh->path,
			      f->sh->missing ? O_RDONLY : flags, 0600, 42,
			      &f->f);
	return err < 0 ? file_fail(f, "open", err) : 0;
}

static int on_file(struct pn_ctx *ctx, struct filer *f,
		   const struct pn_io_ev *ev)
{
	int err;

	if (ev->udata != 42)
		return file_fail(f, "udata", -EPROTO);
	if (ev->op == PN_IO_OP_OPEN) {
		f->sh->open_res = ev->res;
		if (ev->res < 0) { /* the expected end of a missing file */
			pn_io_stats_get(ctx, &f->sh->st);
			pn_runtime_notify(t_rt, C_DONE);
			return 0;
		}
		f->step = S_WRITE;
	} else if (ev->res < 0) {
		return file_fail(f, pn_io_op_name(ev->op), ev->res);
	} else if (ev->op == PN_IO_OP_WRITE) {
		if (ev->res != PIECE || ev->data != f->out + f->piece * PIECE)
			return file_fail(f, "short write", -EIO);
		if (++f->piece == PIECES)
			f->step = S_FSYNC;
	} else if (ev->op == PN_IO_OP_FSYNC) {
		f->step = S_READ;
	} else if (ev->op == PN_IO_OP_READ) {
		f->sh->same = ev->res == PIECE * PIECES &&
			      !memcmp(f->in, f->out, PIECE * PIECES);
		f->step = S_CLOSE;
	}
	if ((err = next(ctx, f)) < 0)
		return file_fail(f, "next step", err);
	return 0;
}

static int filer_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct filer *f = state;

	switch (m->type) {
	case T_GO:
		return go(ctx, f);
	case PN_MSG_IO_FILE:
		return on_file(ctx, f, pn_io_ev(m));
	case PN_MSG_IO_CLOSED:
		f->sh->closed++;
		pn_io_stats_get(ctx, &f->sh->st);
		if (f->sh->fixed) {
			pn_io_file_buf_put(ctx, f->out);
			pn_io_file_buf_put(ctx, f->in);
		}
		pn_runtime_notify(t_rt, pn_io_ev(m)->res ? C_FAIL : C_DONE);
		return 0;
	default:
		return 0;
	}
}

static int filer_init(struct pn_ctx *ctx, void *state, const void *arg,
		      size_t len)
{
	(void)ctx;
	(void)len;
	((struct filer *)state)->sh = *(struct shared *const *)arg;
	return 0;
}

static const struct pn_behaviour filer_b = {.name = "test-filer",
					    .state_size = sizeof(struct filer),
					    .init = filer_init,
					    .handle = filer_handle};

static void run(struct shared *sh, const struct pn_io_config *cfg)
{
	struct shared *arg = sh;
	int code;
	pn_pid p;

	t_start(cfg);
	p = t_spawn(&filer_b, 1, &arg, sizeof(arg));
	t_send(p, T_GO, NULL, 0);
	code = t_next(T_WAIT);
	if (code != C_DONE)
		fail_msg("code %d: %s", code, sh->what);
	t_finish();
}

static void tmp_path(struct shared *sh)
{
	int fd;

	snprintf(sh->path, sizeof(sh->path), "/tmp/pinion-io-test-XXXXXX");
	fd = mkstemp(sh->path);
	assert_true(fd >= 0);
	close(fd);
}

static void check_file(const struct shared *sh)
{
	unsigned char want[PIECE * PIECES], got[PIECE * PIECES];
	int fd = open(sh->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, got, sizeof(got)), sizeof(got));
	close(fd);
	t_fill(want, sizeof(want), 7, 0);
	assert_memory_equal(got, want, sizeof(got));
}

static void test_file_write_read_back(void **state)
{
	static struct shared sh;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	tmp_path(&sh);
	run(&sh, NULL);
	check_file(&sh);
	unlink(sh.path);
	assert_int_equal(sh.open_res, 0);
	assert_true(sh.same);
	assert_int_equal(sh.closed, 1);
	assert_int_equal(sh.st.handles, 0);
}

static void test_file_registered_buffers(void **state)
{
	static struct shared sh;
	struct pn_io_config cfg;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.fixed = true;
	tmp_path(&sh);
	pn_io_config_init(&cfg);
	cfg.file_bufs = 4;
	cfg.file_buf_size = PIECE * PIECES;
	run(&sh, &cfg);
	check_file(&sh);
	unlink(sh.path);
	assert_true(sh.same);
	assert_int_equal(sh.closed, 1);
}

static void test_file_open_missing(void **state)
{
	static struct shared sh;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	sh.missing = true;
	snprintf(sh.path, sizeof(sh.path), "/tmp/pinion-io-no-such-%d",
		 (int)getpid());
	run(&sh, NULL);
	assert_int_equal(sh.open_res, -ENOENT);
	assert_int_equal(sh.closed, 0);
	assert_int_equal(sh.st.handles, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_file_write_read_back,
					  t_teardown),
		cmocka_unit_test_teardown(test_file_registered_buffers,
					  t_teardown),
		cmocka_unit_test_teardown(test_file_open_missing, t_teardown),
	};

	return cmocka_run_group_tests_name("io_file", tests, NULL, NULL);
}
