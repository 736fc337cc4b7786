/*
 * throttlefs: a FUSE3 passthrough filesystem that makes a destination folder slow, for Sluice's benchmarks
 * and integration tests (a NAS slower than the host, that sometimes stalls).
 *
 *   throttlefs [--rate BPS] [--burst BYTES] [--fake-free BYTES] [--control PATH|-]...
 *              BACKING_DIR MOUNT_POINT [fuse options, e.g. -f -o auto_unmount]
 *
 * Every write() passes a gate before it reaches the backing directory:
 *   - stall:    while a stall is in effect every write() (and fsync()) blocks until it ends;
 *   - failure:  if a failure errno is set (ENOSPC, EIO, EDQUOT), write() fails with it;
 *   - throttle: a token bucket (GCRA) at --rate bytes/s (0 = unlimited) with --burst bytes of credit;
 *               the write() sleeps until its bytes fit, so the writer's write syscall blocks.
 * Everything else (open, read, rename, ...) passes straight through.
 *
 * Control: newline-terminated commands, read from stdin (`--control -`; stdin EOF unmounts and exits, so the
 * mount goes away with its parent) and/or from a FIFO (`--control /path/ctl`, created if missing; replies go
 * to stderr). Replies to stdin commands are single lines on stdout: "ok ..." or "err ...".
 *   rate N        set the rate in bytes/s (0 = unlimited)
 *   burst N       set the bucket depth in bytes
 *   stall MS      block writes for MS milliseconds from now (MS < 0 or "forever": until unstall)
 *   unstall       end a stall now
 *   free N|off    make statfs report N bytes free (and available); "off" reports the backing fs's values
 *   fail E|off    make write() fail with E (ENOSPC, EIO, EDQUOT); "off" stops it
 *   stats         "ok bytes=.. writes=.. stalled_writes=.. stall_wait_ms=.. throttle_wait_ms=.."
 *   ping          "ok pong"
 *   quit          unmount and exit (SIGTERM/SIGINT do the same)
 * When the filesystem is ready, "ready" is printed on stdout.
 *
 * Build: gcc -O2 -Wall -o throttlefs throttlefs.c $(pkg-config --cflags --libs fuse3) -lpthread
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE

#include <fuse.h>
#include <fuse_lowlevel.h> /* fuse_session_exited */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_SEC ((int64_t)1000000000)
#define NS_PER_MS ((int64_t)1000000)
#define FOREVER INT64_MAX
#define DEFAULT_BURST (64 * 1024)
#define MAX_CONTROLS 4

static struct {
	int backing_fd;
	pthread_t main_thread;
	const char *controls[MAX_CONTROLS];
	int n_controls;
	bool direct_io;

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;  /* CLOCK_MONOTONIC; broadcast on every control change */
	uint64_t gen;       /* bumped on every rate/stall change: sleeping writers re-plan */
	uint64_t rate;      /* bytes/s, 0 = unlimited */
	uint64_t burst;     /* bytes */
	int64_t tat_ns;     /* GCRA theoretical arrival time */
	int64_t stall_until_ns; /* 0 = none, FOREVER = until unstall */
	int64_t fake_free;  /* < 0 = off */
	int fail_errno;     /* 0 = off */
	bool shutting_down;

	uint64_t st_bytes, st_writes, st_stalled_writes;
	int64_t st_stall_wait_ns, st_throttle_wait_ns;
} g = {
	.backing_fd = -1,
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.burst = DEFAULT_BURST,
	.fake_free = -1,
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* Paths from FUSE always start with "/"; the backing dir fd resolves them relative to itself. */
static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

static bool exiting_locked(void)
{
	if (g.shutting_down)
		return true;
	struct fuse_context *ctx = fuse_get_context();
	if (ctx && ctx->fuse) {
		struct fuse_session *se = fuse_get_session(ctx->fuse);
		if (se && fuse_session_exited(se))
			return true;
	}
	return false;
}

/* Wait (mu held) until deadline, a control change, or at most 100 ms, so that exits are noticed. */
static void wait_until_locked(int64_t deadline)
{
	int64_t slice = now_ns() + 100 * NS_PER_MS;
	if (deadline > slice)
		deadline = slice;
	struct timespec ts = { .tv_sec = deadline / NS_PER_SEC, .tv_nsec = deadline % NS_PER_SEC };
	pthread_cond_timedwait(&g.cv, &g.mu, &ts);
}

/*
 * The gate in front of write() (is_write) and fsync(). Returns 0 or a positive errno to fail with.
 * A waiting request gives up with EINTR when the kernel interrupts it (its caller got a fatal signal, e.g.
 * a SIGKILLed writer: without this the dying writer, and so its control pipe, would hang until the stall ends).
 */
static int gate(size_t size, bool is_write)
{
	int err = 0;
	bool stalled = false;
	int64_t t0 = now_ns(), t_stall_end = t0;

	pthread_mutex_lock(&g.mu);
restart:
	while (!exiting_locked() && g.stall_until_ns > now_ns()) {
		if (fuse_interrupted()) {
			err = EINTR;
			goto out;
		}
		stalled = true;
		wait_until_locked(g.stall_until_ns);
	}
	t_stall_end = now_ns();
	if (!is_write || exiting_locked())
		goto out;
	if (g.fail_errno) {
		err = g.fail_errno;
		goto out;
	}
	if (g.rate == 0)
		goto out;
	{
		uint64_t gen = g.gen;
		int64_t now = now_ns();
		if (g.tat_ns < now)
			g.tat_ns = now;
		g.tat_ns += (int64_t)((double)size * NS_PER_SEC / (double)g.rate);
		int64_t deadline = g.tat_ns - (int64_t)((double)g.burst * NS_PER_SEC / (double)g.rate);
		while (now_ns() < deadline) {
			if (exiting_locked())
				goto out;
			if (fuse_interrupted()) {
				err = EINTR;
				goto out;
			}
			wait_until_locked(deadline);
			if (g.gen != gen)
				goto restart; /* rate changed or a stall began: plan again */
		}
	}
out:
	if (is_write) {
		int64_t t1 = now_ns();
		g.st_writes++;
		if (!err)
			g.st_bytes += size;
		if (stalled)
			g.st_stalled_writes++;
		g.st_stall_wait_ns += t_stall_end - t0;
		g.st_throttle_wait_ns += t1 - t_stall_end;
	}
	pthread_mutex_unlock(&g.mu);
	return err;
}

/* ---------------------------------------------------------------- operations */

static void *tf_init(struct fuse_conn_info *conn, struct fuse_config *cfg);

static int tf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int res = fi ? fstat((int)fi->fh, st) : fstatat(g.backing_fd, rel(path), st, AT_SYMLINK_NOFOLLOW);
	return res == -1 ? -errno : 0;
}

static int tf_access(const char *path, int mask)
{
	return faccessat(g.backing_fd, rel(path), mask, 0) == -1 ? -errno : 0;
}

static int tf_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n = readlinkat(g.backing_fd, rel(path), buf, size - 1);
	if (n == -1)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int tf_opendir(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(g.backing_fd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return -e;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

static int tf_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t offset,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)path;
	(void)offset;
	(void)flags;
	DIR *d = (DIR *)(uintptr_t)fi->fh;
	struct dirent *de;
	rewinddir(d);
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		memset(&st, 0, sizeof st);
		st.st_ino = de->d_ino;
		st.st_mode = (mode_t)(DTTOIF(de->d_type));
		if (filler(buf, de->d_name, &st, 0, 0))
			break;
		errno = 0;
	}
	return errno ? -errno : 0;
}

static int tf_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	closedir((DIR *)(uintptr_t)fi->fh);
	return 0;
}

static int tf_mkdir(const char *path, mode_t mode)
{
	return mkdirat(g.backing_fd, rel(path), mode) == -1 ? -errno : 0;
}

static int tf_unlink(const char *path)
{
	return unlinkat(g.backing_fd, rel(path), 0) == -1 ? -errno : 0;
}

static int tf_rmdir(const char *path)
{
	return unlinkat(g.backing_fd, rel(path), AT_REMOVEDIR) == -1 ? -errno : 0;
}

static int tf_symlink(const char *target, const char *path)
{
	return symlinkat(target, g.backing_fd, rel(path)) == -1 ? -errno : 0;
}

static int tf_rename(const char *from, const char *to, unsigned int flags)
{
	int res = flags ? renameat2(g.backing_fd, rel(from), g.backing_fd, rel(to), flags)
			: renameat(g.backing_fd, rel(from), g.backing_fd, rel(to));
	return res == -1 ? -errno : 0;
}

static int tf_link(const char *from, const char *to)
{
	return linkat(g.backing_fd, rel(from), g.backing_fd, rel(to), 0) == -1 ? -errno : 0;
}

static int tf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int res = fi ? fchmod((int)fi->fh, mode) : fchmodat(g.backing_fd, rel(path), mode, 0);
	return res == -1 ? -errno : 0;
}

static int tf_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	int res = fi ? fchown((int)fi->fh, uid, gid)
		     : fchownat(g.backing_fd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW);
	return res == -1 ? -errno : 0;
}

static int tf_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	if (fi)
		return ftruncate((int)fi->fh, size) == -1 ? -errno : 0;
	int fd = openat(g.backing_fd, rel(path), O_WRONLY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	int res = ftruncate(fd, size) == -1 ? -errno : 0;
	close(fd);
	return res;
}

static int tf_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	int res = fi ? futimens((int)fi->fh, tv) : utimensat(g.backing_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW);
	return res == -1 ? -errno : 0;
}

static int tf_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	/* fi->flags keeps O_EXCL, so an exclusive create fails with EEXIST in the backing dir too. */
	int fd = openat(g.backing_fd, rel(path), fi->flags | O_CREAT | O_CLOEXEC, mode);
	if (fd == -1)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int tf_open(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(g.backing_fd, rel(path), fi->flags | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int tf_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	ssize_t n = pread((int)fi->fh, buf, size, off);
	return n == -1 ? -errno : (int)n;
}

static int tf_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	int err = gate(size, true);
	if (err)
		return -err;
	size_t done = 0;
	while (done < size) {
		ssize_t n = pwrite((int)fi->fh, buf + done, size - done, off + (off_t)done);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return done ? (int)done : -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (int)done;
}

static int tf_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	if (fstatvfs(g.backing_fd, st) == -1)
		return -errno;
	pthread_mutex_lock(&g.mu);
	int64_t fake = g.fake_free;
	pthread_mutex_unlock(&g.mu);
	if (fake >= 0) {
		unsigned long unit = st->f_frsize ? st->f_frsize : st->f_bsize;
		fsblkcnt_t blocks = (fsblkcnt_t)((uint64_t)fake / (unit ? unit : 4096));
		if (blocks > st->f_blocks)
			st->f_blocks = blocks;
		st->f_bfree = blocks;
		st->f_bavail = blocks;
	}
	return 0;
}

static int tf_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	/* Called on every close() of a descriptor: report delayed write errors like the backing fs would. */
	int fd = dup((int)fi->fh);
	if (fd == -1)
		return -errno;
	return close(fd) == -1 ? -errno : 0;
}

static int tf_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int tf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	int err = gate(0, false); /* a stalled NAS does not acknowledge fsync either */
	if (err)
		return -err;
	int res = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
	return res == -1 ? -errno : 0;
}

static int tf_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	(void)path;
	return fallocate((int)fi->fh, mode, off, len) == -1 ? -errno : 0;
}

static const struct fuse_operations tf_ops = {
	.init = tf_init,
	.getattr = tf_getattr,
	.access = tf_access,
	.readlink = tf_readlink,
	.opendir = tf_opendir,
	.readdir = tf_readdir,
	.releasedir = tf_releasedir,
	.mkdir = tf_mkdir,
	.unlink = tf_unlink,
	.rmdir = tf_rmdir,
	.symlink = tf_symlink,
	.rename = tf_rename,
	.link = tf_link,
	.chmod = tf_chmod,
	.chown = tf_chown,
	.truncate = tf_truncate,
	.utimens = tf_utimens,
	.create = tf_create,
	.open = tf_open,
	.read = tf_read,
	.write = tf_write,
	.statfs = tf_statfs,
	.flush = tf_flush,
	.release = tf_release,
	.fsync = tf_fsync,
	.fallocate = tf_fallocate,
};

/* ---------------------------------------------------------------- control */

static bool parse_i64(const char *s, int64_t *out)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static int errno_by_name(const char *s)
{
	if (!strcmp(s, "ENOSPC"))
		return ENOSPC;
	if (!strcmp(s, "EIO"))
		return EIO;
	if (!strcmp(s, "EDQUOT"))
		return EDQUOT;
	if (!strcmp(s, "EROFS"))
		return EROFS;
	return 0;
}

static void changed_locked(void)
{
	g.gen++;
	g.tat_ns = now_ns();
	pthread_cond_broadcast(&g.cv);
}

static void request_exit(void)
{
	pthread_mutex_lock(&g.mu);
	g.shutting_down = true;
	g.stall_until_ns = 0;
	changed_locked();
	pthread_mutex_unlock(&g.mu);
	/* fuse_main's handler ends the loop; it then unmounts and returns from main. */
	pthread_kill(g.main_thread, SIGTERM);
}

/* Runs one command line; writes exactly one reply line to out. Returns false on "quit". */
static bool handle_command(char *line, FILE *out)
{
	char *save = NULL;
	char *cmd = strtok_r(line, " \t\r\n", &save);
	char *arg = strtok_r(NULL, " \t\r\n", &save);
	int64_t v = 0;
	bool keep = true;

	if (!cmd) {
		fprintf(out, "err empty command\n");
	} else if (!strcmp(cmd, "ping")) {
		fprintf(out, "ok pong\n");
	} else if (!strcmp(cmd, "rate") && parse_i64(arg, &v) && v >= 0) {
		pthread_mutex_lock(&g.mu);
		g.rate = (uint64_t)v;
		changed_locked();
		pthread_mutex_unlock(&g.mu);
		fprintf(out, "ok rate %" PRId64 "\n", v);
	} else if (!strcmp(cmd, "burst") && parse_i64(arg, &v) && v >= 0) {
		pthread_mutex_lock(&g.mu);
		g.burst = (uint64_t)v;
		changed_locked();
		pthread_mutex_unlock(&g.mu);
		fprintf(out, "ok burst %" PRId64 "\n", v);
	} else if (!strcmp(cmd, "stall") && arg && (!strcmp(arg, "forever") || parse_i64(arg, &v))) {
		pthread_mutex_lock(&g.mu);
		if (!strcmp(arg, "forever") || v < 0)
			g.stall_until_ns = FOREVER;
		else
			g.stall_until_ns = v == 0 ? 0 : now_ns() + v * NS_PER_MS;
		changed_locked();
		pthread_mutex_unlock(&g.mu);
		fprintf(out, "ok stall %s\n", arg);
	} else if (!strcmp(cmd, "unstall")) {
		pthread_mutex_lock(&g.mu);
		g.stall_until_ns = 0;
		changed_locked();
		pthread_mutex_unlock(&g.mu);
		fprintf(out, "ok unstall\n");
	} else if (!strcmp(cmd, "free") && arg && (!strcmp(arg, "off") || parse_i64(arg, &v))) {
		pthread_mutex_lock(&g.mu);
		g.fake_free = !strcmp(arg, "off") ? -1 : v;
		pthread_mutex_unlock(&g.mu);
		fprintf(out, "ok free %s\n", arg);
	} else if (!strcmp(cmd, "fail") && arg && (!strcmp(arg, "off") || errno_by_name(arg))) {
		pthread_mutex_lock(&g.mu);
		g.fail_errno = !strcmp(arg, "off") ? 0 : errno_by_name(arg);
		pthread_mutex_unlock(&g.mu);
		fprintf(out, "ok fail %s\n", arg);
	} else if (!strcmp(cmd, "stats")) {
		pthread_mutex_lock(&g.mu);
		fprintf(out,
			"ok bytes=%" PRIu64 " writes=%" PRIu64 " stalled_writes=%" PRIu64
			" stall_wait_ms=%" PRId64 " throttle_wait_ms=%" PRId64 " rate=%" PRIu64 " stalled=%d\n",
			g.st_bytes, g.st_writes, g.st_stalled_writes, g.st_stall_wait_ns / NS_PER_MS,
			g.st_throttle_wait_ns / NS_PER_MS, g.rate, g.stall_until_ns > now_ns() ? 1 : 0);
		pthread_mutex_unlock(&g.mu);
	} else if (!strcmp(cmd, "quit")) {
		fprintf(out, "ok quit\n");
		keep = false;
	} else {
		fprintf(out, "err bad command: %s%s%s\n", cmd, arg ? " " : "", arg ? arg : "");
	}
	fflush(out);
	return keep;
}

static void *control_thread(void *arg)
{
	const char *spec = arg;
	bool is_stdin = !strcmp(spec, "-");
	FILE *in, *out;
	if (is_stdin) {
		in = stdin;
		out = stdout;
	} else {
		if (mkfifo(spec, 0600) == -1 && errno != EEXIST) {
			fprintf(stderr, "throttlefs: mkfifo %s: %s\n", spec, strerror(errno));
			return NULL;
		}
		/* O_RDWR: we hold a writer ourselves, so the FIFO never reports EOF between clients. */
		int fd = open(spec, O_RDWR | O_CLOEXEC);
		if (fd == -1 || !(in = fdopen(fd, "r"))) {
			fprintf(stderr, "throttlefs: open %s: %s\n", spec, strerror(errno));
			return NULL;
		}
		out = stderr;
	}
	char line[512];
	while (fgets(line, sizeof line, in)) {
		if (!handle_command(line, out)) {
			request_exit();
			return NULL;
		}
	}
	if (is_stdin)
		request_exit(); /* our parent went away: do not leave a mount behind */
	return NULL;
}

static void *tf_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->nullpath_ok = 1;
	cfg->hard_remove = 1; /* no .fuse_hidden files in the backing dir: fh-based ops keep working */
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = g.direct_io;
	for (int i = 0; i < g.n_controls; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, control_thread, (void *)g.controls[i]) == 0)
			pthread_detach(t);
	}
	printf("ready\n");
	fflush(stdout);
	return NULL;
}

/* ---------------------------------------------------------------- main */

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--rate BPS] [--burst BYTES] [--fake-free BYTES] [--control PATH|-]...\n"
		"          BACKING_DIR MOUNT_POINT [fuse options: -f -s -d -o opt,...]\n",
		prog);
}

int main(int argc, char *argv[])
{
	char **fargv = calloc((size_t)argc + 1, sizeof *fargv);
	int fargc = 0;
	const char *backing = NULL;
	if (!fargv)
		return 1;
	fargv[fargc++] = argv[0];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int64_t v;
		bool has_val = i + 1 < argc;
		if (!strcmp(a, "--rate") && has_val && parse_i64(argv[i + 1], &v) && v >= 0) {
			g.rate = (uint64_t)v;
			i++;
		} else if (!strcmp(a, "--burst") && has_val && parse_i64(argv[i + 1], &v) && v >= 0) {
			g.burst = (uint64_t)v;
			i++;
		} else if (!strcmp(a, "--fake-free") && has_val && parse_i64(argv[i + 1], &v) && v >= 0) {
			g.fake_free = v;
			i++;
		} else if (!strcmp(a, "--direct-io")) {
			g.direct_io = true;
		} else if (!strcmp(a, "--control") && has_val && g.n_controls < MAX_CONTROLS) {
			g.controls[g.n_controls++] = argv[++i];
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(argv[0]);
			return 0;
		} else if (!strncmp(a, "--", 2) && strcmp(a, "--")) {
			fprintf(stderr, "throttlefs: bad option or value: %s\n", a);
			usage(argv[0]);
			return 2;
		} else if (!strcmp(a, "-o") && has_val) {
			fargv[fargc++] = argv[i];
			fargv[fargc++] = argv[++i];
		} else if (!backing && a[0] != '-') {
			backing = a;
		} else {
			fargv[fargc++] = argv[i];
		}
	}
	if (!backing) {
		usage(argv[0]);
		return 2;
	}
	g.backing_fd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g.backing_fd == -1) {
		fprintf(stderr, "throttlefs: backing dir %s: %s\n", backing, strerror(errno));
		return 1;
	}

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g.cv, &ca);
	g.main_thread = pthread_self();
	umask(0); /* modes come from the caller's create()/mkdir(), already masked by the kernel */

	int res = fuse_main(fargc, fargv, &tf_ops, NULL);
	free(fargv);
	return res;
}
