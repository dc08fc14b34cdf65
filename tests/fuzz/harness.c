/*
 * harness.c: the fuzz targets' shared parts (see harness.h): fatal()
 * back to the harness, an input cursor, descriptor counting. The imsg
 * targets' channels and process runs are in harness_imsg.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"

jmp_buf		fuzz_jmp;
int		fuzz_jmp_armed;
unsigned long	fuzz_fatals;

static __dead void
fuzz_fatal(void)
{
	/* A fatal the target did not expect is a crash. */
	if (!fuzz_jmp_armed)
		abort();
	fuzz_jmp_armed = 0;
	fuzz_fatals++;
	longjmp(fuzz_jmp, 1);
}

void
fuzz_init(void)
{
	/* WGCARD_FUZZ_LOG=1 shows the processes' messages (for a crash). */
	log_fuzz_setup(fuzz_fatal, getenv("WGCARD_FUZZ_LOG") == NULL);
}

uint8_t
fuzz_u8(struct fuzz_in *in)
{
	uint8_t	v = 0;

	fuzz_bytes(in, &v, 1);
	return v;
}

uint16_t
fuzz_u16(struct fuzz_in *in)
{
	uint8_t	b[2] = { 0, 0 };

	fuzz_bytes(in, b, sizeof(b));
	return (uint16_t)(b[0] << 8 | b[1]);
}

uint32_t
fuzz_u32(struct fuzz_in *in)
{
	uint8_t	b[4] = { 0, 0, 0, 0 };

	fuzz_bytes(in, b, sizeof(b));
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
}

size_t
fuzz_bytes(struct fuzz_in *in, void *out, size_t n)
{
	if (n > in->left)
		n = in->left;
	if (n > 0) {
		memcpy(out, in->p, n);
		in->p += n;
		in->left -= n;
	}
	return n;
}

/* The open descriptors, from /proc/self/fd (one getdents, not 1024 probes). */
static void
fuzz_fds_list(struct fuzz_fds *f)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, self;

	memset(f, 0, sizeof(*f));
	if ((d = opendir("/proc/self/fd")) == NULL)
		abort();
	self = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd == self)
			continue;
		if (fd < 0 || fd >= FUZZ_FDS_MAX)
			abort();
		f->open[fd / 8] |= 1 << (fd % 8);
	}
	closedir(d);
}

void
fuzz_fds_mark(struct fuzz_fds *f)
{
	fuzz_fds_list(f);
}

int
fuzz_count_fds(void)
{
	struct fuzz_fds	now;
	int		fd, n = 0;

	fuzz_fds_list(&now);
	for (fd = 0; fd < FUZZ_FDS_MAX; fd++)
		if (now.open[fd / 8] & (1 << (fd % 8)))
			n++;
	return n;
}

int
fuzz_fds_new(const struct fuzz_fds *f, int close_them)
{
	struct fuzz_fds	now;
	int		fd, n = 0;

	fuzz_fds_list(&now);
	for (fd = 0; fd < FUZZ_FDS_MAX; fd++)
		if ((now.open[fd / 8] & ~f->open[fd / 8]) & (1 << (fd % 8))) {
			n++;
			if (close_them)
				close(fd);
		}
	return n;
}

int
fuzz_null_fd(void)
{
	int	fd;

	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		abort();
	return fd;
}
