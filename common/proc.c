/*
 * proc.c: starting, naming and confining wgcard's processes.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <link.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/capability.h>

#include <sodium.h>

extern char **environ;

#include "log.h"
#include "proc.h"

static char	 self_path[PATH_MAX];
static char	*title_start;
static size_t	 title_len;

const char *
proc_self_path(void)
{
	ssize_t	n;

	if (self_path[0] == '\0') {
		n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
		if (n <= 0)
			fatal("readlink /proc/self/exe");
		self_path[n] = '\0';
	}
	return self_path;
}

static void
proc_closefrom(int lowfd)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, dfd;

	if ((d = opendir("/proc/self/fd")) == NULL) {
		for (fd = lowfd; fd < 1024; fd++)
			close(fd);
		return;
	}
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd >= lowfd && fd != dfd)
			close(fd);
	}
	closedir(d);
}

#ifdef WGCARD_HOSTILE
/*
 * Test builds only (make hostile; never in an installed binary): the
 * child whose role ("-P ROLE" in its arguments, or "keyd") is named by
 * WGCARD_HOSTILE_ROLE is replaced by the program WGCARD_HOSTILE_EXEC,
 * which gets the same descriptors and arguments and plays a compromised
 * sibling (tests/hostile/hostile.c, tests/integration/hostile.sh).
 */
static void
proc_hostile(const char **path, char *const argv[])
{
	const char	*role = getenv("WGCARD_HOSTILE_ROLE");
	const char	*exe = getenv("WGCARD_HOSTILE_EXEC");
	const char	*mine = "keyd";
	int		 i;

	if (role == NULL || exe == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		if (strcmp(argv[i], "-P") == 0 && argv[i + 1] != NULL)
			mine = argv[i + 1];
	if (strcmp(role, mine) == 0)
		*path = exe;
}
#endif

pid_t
proc_exec(const char *path, char *const argv[], const int *fds, int nfds)
{
	pid_t	pid;
	int	i, tmp[16];

	if (nfds > 16) {
		errno = EINVAL;
		return -1;
	}
	switch (pid = fork()) {
	case -1:
		return -1;
	case 0:
		break;
	default:
		return pid;
	}
	/* Child: move the sockets out of the way, then into place. */
	for (i = 0; i < nfds; i++)
		if ((tmp[i] = fcntl(fds[i], F_DUPFD, 64)) == -1)
			_exit(127);
	for (i = 0; i < nfds; i++) {
		if (dup2(tmp[i], 3 + i) == -1)
			_exit(127);
	}
	proc_closefrom(3 + nfds);
#ifdef WGCARD_HOSTILE
	proc_hostile(&path, argv);
#endif
	execv(path, argv);
	fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

void
proc_privdrop(const char *user, const char *dir)
{
	struct passwd	*pw;
	int		 cap;

	if ((pw = getpwnam(user)) == NULL)
		fatalx("unknown user %s (run contrib/install-deps.sh or "
		    "create it)", user);
	if (dir != NULL) {
		if (chroot(dir) == -1)
			fatal("chroot %s", dir);
		if (chdir("/") == -1)
			fatal("chdir /");
	}
	/* The bounding set too, so nothing can come back through exec. */
	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno != EINVAL)
			fatal("PR_CAPBSET_DROP");
	if (setgroups(1, &pw->pw_gid) == -1)
		fatal("setgroups");
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1)
		fatal("setresgid");
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("setresuid");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
	/* Paranoia: root must be gone for good. */
	if (setresuid(0, 0, 0) != -1 || geteuid() == 0)
		fatalx("privilege drop failed");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		fatal("PR_CAP_AMBIENT");
}

void
proc_setname(const char *comm)
{
	prctl(PR_SET_NAME, comm, 0, 0, 0);
}

void
proc_init_title(int argc, char **argv)
{
	int	i;
	char	*end;

	if (argc == 0 || argv[0] == NULL)
		return;
	end = argv[0] + strlen(argv[0]);
	for (i = 1; i < argc && argv[i] != NULL; i++)
		if (argv[i] == end + 1)
			end = argv[i] + strlen(argv[i]);
	/*
	 * The environment strings follow the arguments: move them to the
	 * heap so the title may use their room too.
	 */
	if (environ != NULL) {
		char	**env;
		int	  n;

		for (n = 0; environ[n] != NULL; n++)
			;
		if ((env = calloc(n + 1, sizeof(*env))) != NULL) {
			for (i = 0; i < n; i++) {
				if (environ[i] == end + 1)
					end = environ[i] + strlen(environ[i]);
				if ((env[i] = strdup(environ[i])) == NULL)
					break;
			}
			if (i == n)
				environ = env;
		}
	}
	title_start = argv[0];
	title_len = end - argv[0];
}

void
proc_settitle(const char *fmt, ...)
{
	va_list	ap;
	char	buf[256];
	size_t	n;

	if (title_start == NULL || title_len < 2)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf);
	if (n > title_len)
		n = title_len;
	memset(title_start, 0, title_len + 1);
	memcpy(title_start, buf, n);
	prctl(PR_SET_MM, PR_SET_MM_ARG_END,
	    (unsigned long)(title_start + n + 1), 0, 0);
}

void
proc_nocore(void)
{
	struct rlimit	rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/*
 * Wipes the stack below the caller: library code (printf's work areas,
 * base64 temporaries) may leave copies of what it formatted there, and
 * the parent formats the config file's preshared keys once.
 *
 * Only pages the process has touched can hold anything, and those are
 * resident: the PROC_WIPE_MAX bytes below the caller are zeroed page by
 * page where mincore(2) finds one, so the wipe no longer makes the whole
 * area resident (a 256 KiB local array did, every page of it probed: it
 * was the parent's largest mapping after libc). Those pages are below
 * the stack pointer, written through a pointer with every signal blocked
 * (a handler's frame would land there) by proc_wipe_below, all but the
 * PROC_WIPE_GAP bytes under proc_wipe_stack's own small frame, where
 * proc_wipe_below and its calls keep theirs: proc_wipe_gap's local array
 * lies over those and is zeroed last. What stays is the few bytes of
 * the two frames' padding.
 */
#define PROC_WIPE_MAX	(256 * 1024)
#define PROC_WIPE_GAP	(16 * 1024)

static __attribute__((noinline)) void
proc_wipe_below(uintptr_t top, uintptr_t lo)
{
	sigset_t	all, old;
	uintptr_t	pg, a, start, end;
	unsigned char	vec;

	pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	for (a = (top - 1) & ~(pg - 1); a + pg > lo; a -= pg) {
		/* ENOMEM: below the stack's mapping, never touched. */
		if (mincore((void *)a, pg, &vec) == -1)
			break;
		if (!(vec & 1))
			continue;
		start = a > lo ? a : lo;
		end = a + pg < top ? a + pg : top;
		sodium_memzero((void *)start, end - start);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Not instrumented: ASan's redzones around area would keep what lay there. */
static __attribute__((noinline, no_sanitize("address"))) void
proc_wipe_gap(void)
{
	volatile uint8_t	area[PROC_WIPE_GAP];

	sodium_memzero((void *)area, sizeof(area));
	__asm__ __volatile__("" : : "r"(area) : "memory");
}

__attribute__((noinline, no_sanitize("address"))) void
proc_wipe_stack(void)
{
	uintptr_t	frame = (uintptr_t)__builtin_frame_address(0);

	proc_wipe_below(frame - PROC_WIPE_GAP, frame - PROC_WIPE_MAX);
	proc_wipe_gap();
}

/*
 * Start-up (the dynamic linker's relocations, library initialisation:
 * libcrypto's in the forwarder) has faulted in file pages of the shared
 * objects that the process never uses again: symbol and relocation
 * tables, code and constants of what ran once, and their neighbours (the
 * kernel maps 64 KiB around each fault). proc_trim drops them from the
 * process, so that what it allocates later (the forwarder's pool, the
 * handshake process's peers) does not add to them in its peak RSS; what
 * it uses faults back in from the page cache, where they all stay. Only
 * segments that are never written: a read-only PT_LOAD holds no
 * relocated data (RELRO lies in a writable one), and an object with text
 * relocations is left alone. What it releases in each process is
 * measured in docs/performance.md.
 */
static int
proc_trim_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	const ElfW(Phdr)	*ph;
	const ElfW(Dyn)		*d;
	uintptr_t		 pg = *(uintptr_t *)arg, start, end;
	int			 i;

	(void)size;
	if (strncmp(info->dlpi_name, "linux-vdso", 10) == 0)
		return 0;
	for (i = 0; i < info->dlpi_phnum; i++) {
		ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_DYNAMIC)
			continue;
		for (d = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
		    d->d_tag != DT_NULL; d++)
			if (d->d_tag == DT_TEXTREL || (d->d_tag == DT_FLAGS &&
			    (d->d_un.d_val & DF_TEXTREL)))
				return 0;
	}
	for (i = 0; i < info->dlpi_phnum; i++) {
		ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
			continue;
		/* Whole pages inside the segment only. */
		start = (info->dlpi_addr + ph->p_vaddr + pg - 1) & ~(pg - 1);
		end = (info->dlpi_addr + ph->p_vaddr + ph->p_filesz) &
		    ~(pg - 1);
		if (end > start)
			(void)madvise((void *)start, end - start,
			    MADV_DONTNEED);
	}
	return 0;
}

void
proc_trim(void)
{
	uintptr_t	pg = (uintptr_t)sysconf(_SC_PAGESIZE);

	(void)dl_iterate_phdr(proc_trim_object, &pg);
}
