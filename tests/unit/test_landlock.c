/*
 * test_landlock.c: what the broker's Landlock layer closes, tried from a
 * child that applied it: an abstract UNIX socket of a program outside
 * (the hole a chroot leaves, and seccomp cannot see the address), a
 * signal to a process outside, any file opened for reading or writing,
 * a TCP connect; and what it must leave open: connect(2) to a socket by
 * its path (pcscd's socket in the broker's chroot). Each forbidden step
 * is first shown to work without Landlock, so the check can fail.
 */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "test.h"

static struct sockaddr_un	abs_sun, path_sun;
static socklen_t		abs_len, path_len;
static struct sockaddr_in	tcp_sin;
static char			file[64];
static pid_t			outsider;

/* Bit i of the result: step i worked. */
enum { S_ABSTRACT, S_PATH, S_OPEN_R, S_OPEN_W, S_TCP, S_SIGNAL, S_N };
static const char *const steps[S_N] = {
	"connect to an abstract socket", "connect to a socket by path",
	"open a file for reading", "open a file for writing",
	"TCP connect", "signal a process outside",
};

static int
try_connect(int fam, const void *sa, socklen_t len)
{
	int	s, r;

	if ((s = socket(fam, SOCK_STREAM, 0)) == -1)
		return 0;
	r = connect(s, sa, len) == 0;
	close(s);
	return r;
}

static int
try_steps(void)
{
	int	res = 0, fd;

	res |= try_connect(AF_UNIX, &abs_sun, abs_len) << S_ABSTRACT;
	res |= try_connect(AF_UNIX, &path_sun, path_len) << S_PATH;
	if ((fd = open(file, O_RDONLY)) != -1) {
		res |= 1 << S_OPEN_R;
		close(fd);
	}
	if ((fd = open(file, O_WRONLY)) != -1) {
		res |= 1 << S_OPEN_W;
		close(fd);
	}
	res |= try_connect(AF_INET, &tcp_sin, sizeof(tcp_sin)) << S_TCP;
	res |= (kill(outsider, 0) == 0) << S_SIGNAL;
	return res;
}

/* The steps in a child, with or without Landlock: the bits, or -1. */
static int
run_child(int landlock, int *abi)
{
	int	p[2], st, v[2] = { -1, 0 };
	pid_t	pid;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		exit(2);
	if (pid == 0) {
		close(p[0]);
		if (landlock)
			v[1] = sandbox_landlock("test");
		v[0] = try_steps();
		if (write(p[1], v, sizeof(v)) != sizeof(v))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], v, sizeof(v)) != sizeof(v))
		v[0] = -1;
	close(p[0]);
	waitpid(pid, &st, 0);
	*abi = v[1];
	return v[0];
}

static int
listener(int fam, const void *sa, socklen_t len)
{
	int	s;

	if ((s = socket(fam, SOCK_STREAM, 0)) == -1 ||
	    bind(s, sa, len) == -1 || listen(s, 16) == -1) {
		perror("listener");
		exit(2);
	}
	return s;
}

int
main(int argc, char *argv[])
{
	char	dir[] = "/tmp/test_landlock.XXXXXX";
	int	ls[3], before, after, abi, i, fd;
	long	kabi;
	socklen_t slen = sizeof(tcp_sin);

	/* -abi: print the kernel's Landlock ABI (for the shell tests). */
	if (argc == 2 && strcmp(argv[1], "-abi") == 0) {
		kabi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U);
		printf("%ld\n", kabi < 0 ? 0 : kabi);
		return 0;
	}
	log_init(1, 0);
	if (mkdtemp(dir) == NULL)
		exit(2);
	snprintf(file, sizeof(file), "%s/file", dir);
	if ((fd = open(file, O_CREAT | O_WRONLY, 0600)) == -1)
		exit(2);
	close(fd);
	memset(&abs_sun, 0, sizeof(abs_sun));
	abs_sun.sun_family = AF_UNIX;
	snprintf(abs_sun.sun_path + 1, sizeof(abs_sun.sun_path) - 1,
	    "wgcard-test-landlock-%d", (int)getpid());
	abs_len = offsetof(struct sockaddr_un, sun_path) + 1 +
	    strlen(abs_sun.sun_path + 1);
	path_sun.sun_family = AF_UNIX;
	snprintf(path_sun.sun_path, sizeof(path_sun.sun_path), "%s/sock",
	    dir);
	path_len = sizeof(path_sun);
	tcp_sin.sin_family = AF_INET;
	tcp_sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls[0] = listener(AF_UNIX, &abs_sun, abs_len);
	ls[1] = listener(AF_UNIX, &path_sun, path_len);
	ls[2] = listener(AF_INET, &tcp_sin, sizeof(tcp_sin));
	getsockname(ls[2], (struct sockaddr *)&tcp_sin, &slen);
	if ((outsider = fork()) == 0) {
		pause();
		_exit(0);
	}

	before = run_child(0, &abi);
	CHECK(before == (1 << S_N) - 1, "without Landlock every step works "
	    "(0x%x)", before);
	kabi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U);
#ifdef WGCARD_NO_SECCOMP
	/* Sanitizer builds leave the sandbox out: nothing may change. */
	printf("sanitizer build: Landlock is left out, as seccomp is\n");
	kabi = 0;
#endif
	after = run_child(1, &abi);
	printf("kernel Landlock ABI %ld, applied %d\n", kabi, abi);
#ifdef WGCARD_NO_SECCOMP
	if (0) {
#else
	if (kabi < 6) {
#endif
		/* Say why, once: the kernel is older than Linux 6.12. */
		printf("SKIP abstract-socket and signal checks: kernel "
		    "Landlock ABI %ld < 6\n", kabi);
	}
	CHECK(after != -1 && abi == (kabi < 1 ? 0 : kabi),
	    "applied the kernel's ABI (%d, kernel %ld)", abi, kabi);
	for (i = 0; i < S_N && after != -1; i++) {
		int	want = i == S_PATH ? 1 : 0;

		if (kabi < 6 && (i == S_ABSTRACT || i == S_SIGNAL))
			continue;
		if (kabi < 4 && i == S_TCP)
			continue;
		if (kabi < 1)
			want = 1;
		CHECK(((after >> i) & 1) == want, "with Landlock: %s %s",
		    steps[i], want ? "still works" : "is refused");
	}
	kill(outsider, SIGKILL);
	waitpid(outsider, NULL, 0);
	for (i = 0; i < 3; i++)
		close(ls[i]);
	unlink(path_sun.sun_path);
	unlink(file);
	rmdir(dir);
	return test_done();
}
