/*
 * proc.h: starting, naming and confining wgcard's processes.
 */
#ifndef WGCARD_PROC_H
#define WGCARD_PROC_H

#include <sys/types.h>

/*
 * fork + exec of path with argv; in the child, fds[i] becomes fd 3 + i
 * and every other fd above 2 is closed. Returns the pid, or -1.
 */
pid_t	proc_exec(const char *path, char *const argv[], const int *fds,
	    int nfds);
/*
 * Drops privileges in the fixed order: chroot (if dir != NULL), chdir,
 * setgroups, setresgid, setresuid, PR_SET_NO_NEW_PRIVS, then checks that
 * no capability is left. fatal on any failure.
 */
void	proc_privdrop(const char *user, const char *dir);
/* Kernel name (PR_SET_NAME) and command-line title, OpenBSD style. */
void	proc_setname(const char *comm);
void	proc_init_title(int argc, char **argv);
void	proc_settitle(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* Core dumps off, as early as possible (secrets in memory). */
void	proc_nocore(void);
/*
 * Zeroes the stack below the caller, 256 KiB deep, where it is resident
 * (stale copies of secrets; untouched pages are left unmapped).
 */
void	proc_wipe_stack(void);
/*
 * Drops the file pages of the loaded objects' read-only segments that
 * start-up faulted in (MADV_DONTNEED); used ones fault back in.
 */
void	proc_trim(void);
/* Path of the running executable, resolved at start. */
const char *proc_self_path(void);

#endif /* WGCARD_PROC_H */
