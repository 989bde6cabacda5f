/* Logging: one line per message, naming the object at hand.  Messages at
 * or below the level set with -v go to stderr (or the -o file). */
#ifndef LMPROC_LOG_H
#define LMPROC_LOG_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

enum log_level {
	LOG_ERR = 1,
	LOG_WARN = 2,
	LOG_INFO = 3,
	LOG_DEBUG = 4,
};

int log_init(int level, const char *path);
void log_fini(void);
int log_get_level(void);
/* How many errors were logged so far: a failure that logged none still
 * owes the user one line. */
unsigned int log_error_count(void);
/* The first error logged (counted), one line without "Error: "; "" if
 * none: the reason a --json object gives. */
const char *log_first_error(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Until log_capture_end(), the first error goes into BUF (one line, no
 * "Error: "), not counted, and every message reaches the log only at -v4:
 * for a check whose failure its caller reports in its own words. */
void log_capture_start(char *buf, size_t len);
void log_capture_end(void);
/* log_first_error() is "" again: serve's restore gives the first error
 * of its own to the source. */
void log_first_error_reset(void);

#define pr_err(fmt, ...) log_msg(LOG_ERR, "Error: " fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...) log_msg(LOG_WARN, "Warning: " fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) log_msg(LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_msg(LOG_DEBUG, fmt, ##__VA_ARGS__)
/* Appends strerror(errno) to the message, keeping errno intact. */
#define pr_perror(fmt, ...)                                                    \
	({                                                                     \
		int __e = errno;                                               \
		pr_err(fmt ": %s\n", ##__VA_ARGS__, strerror(__e));           \
		errno = __e;                                                   \
	})

#endif
