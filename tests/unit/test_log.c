/*
 * test_log.c: common/log.c's folding of repeated messages (log_repeat):
 * the first written, the same within the window counted, the count
 * written before a different message and by log_repeat_flush once the
 * window has passed, never before.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "test.h"

static char	captured[8192];

/* Runs the logging done so far into captured (stderr is a temp file). */
static void
capture(FILE *f)
{
	size_t	n;

	fflush(stderr);
	rewind(f);
	n = fread(captured, 1, sizeof(captured) - 1, f);
	captured[n] = '\0';
}

static int
count_lines(const char *needle)
{
	const char	*p = captured;
	int		 n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

int
main(void)
{
	struct log_repeat	lr = LOG_REPEAT_INITIALIZER;
	struct log_repeat	other = LOG_REPEAT_INITIALIZER;
	struct timespec		ts = { 0, 80 * 1000000L };
	FILE			*f;
	int			 i, fd;

	if ((f = tmpfile()) == NULL)
		return 1;
	fflush(stderr);
	fd = dup(STDERR_FILENO);
	dup2(fileno(f), STDERR_FILENO);
	log_init(1, LOG_DAEMON);
	log_procinit("test");

	lr.window_ms = 50;
	for (i = 0; i < 5; i++)
		log_repeat(&lr, LOG_WARNING, "card: error %d", 7);
	capture(f);
	CHECK(count_lines("card: error 7\n") == 1 &&
	    count_lines("repeated") == 0, "the same five times: one line, "
	    "the count held back");
	log_repeat_flush(&lr);
	capture(f);
	CHECK(count_lines("repeated") == 0, "flush within the window: "
	    "nothing yet");
	nanosleep(&ts, NULL);
	log_repeat_flush(&lr);
	capture(f);
	CHECK(count_lines("last message repeated 4 times: card: error 7\n") ==
	    1, "flush after the window: the count, once");
	log_repeat_flush(&lr);
	capture(f);
	CHECK(count_lines("repeated") == 1, "a second flush: nothing more");

	log_repeat(&lr, LOG_WARNING, "card: error %d", 7);
	log_repeat(&lr, LOG_WARNING, "card: error %d", 8);
	capture(f);
	CHECK(count_lines("last message repeated 1 time: card: error 7\n") ==
	    1 && count_lines("card: error 8\n") == 1, "a different message: "
	    "the count first, then it");
	log_repeat(&lr, LOG_INFO, "card: error %d", 8);
	capture(f);
	CHECK(count_lines("card: error 8\n") == 2, "another priority: "
	    "written");
	nanosleep(&ts, NULL);
	log_repeat(&lr, LOG_INFO, "card: error %d", 8);
	capture(f);
	CHECK(count_lines("card: error 8\n") == 3, "after the window: "
	    "written again");

	/* Two call sites fold apart; the default window is seconds. */
	log_repeat(&other, LOG_WARNING, "keyd: %s", "x");
	log_repeat(&other, LOG_WARNING, "keyd: %s", "x");
	log_repeat(&lr, LOG_WARNING, "card: y");
	log_repeat(&other, LOG_WARNING, "keyd: %s", "x");
	capture(f);
	CHECK(count_lines("keyd: x\n") == 1 && count_lines("card: y\n") == 1,
	    "other sites do not break a run");
	errno = EBUSY;
	log_repeat(&other, LOG_WARNING, "keyd: %s", "x");
	CHECK(errno == EBUSY, "errno kept");

	dup2(fd, STDERR_FILENO);
	close(fd);
	fclose(f);
	return test_done();
}
