/* Owns the log destination and level; knows nothing of what is logged. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "log.h"
#include "progress.h"

static int log_level = LOG_WARN;
static FILE *log_file;
static unsigned int log_errors;
static char *capture_buf;
static size_t capture_len;
static char first_error[512];

int log_init(int level, const char *path)
{
	log_level = level;
	if (!path)
		return 0;
	log_file = fopen(path, "ae");
	if (!log_file) {
		log_file = NULL;
		pr_perror("Can't open log file %s", path);
		return -errno;
	}
	setvbuf(log_file, NULL, _IOLBF, 0);
	return 0;
}

void log_fini(void)
{
	if (log_file)
		fclose(log_file);
	log_file = NULL;
}

int log_get_level(void)
{
	return log_level;
}

unsigned int log_error_count(void)
{
	return log_errors;
}

const char *log_first_error(void)
{
	return first_error;
}

void log_capture_start(char *buf, size_t len)
{
	capture_buf = buf;
	capture_len = len;
	if (len)
		buf[0] = '\0';
}

void log_capture_end(void)
{
	capture_buf = NULL;
	capture_len = 0;
}

void log_first_error_reset(void)
{
	first_error[0] = '\0';
}

/* The first error into BUF (LEN bytes), one line without "Error: ". */
static void capture(char *buf, size_t len, const char *fmt, va_list ap)
{
	static const char prefix[] = "Error: ";
	size_t n;

	if (!len || buf[0])
		return;
	vsnprintf(buf, len, fmt, ap);
	if (!strncmp(buf, prefix, sizeof(prefix) - 1))
		memmove(buf, buf + sizeof(prefix) - 1, strlen(buf) - sizeof(prefix) + 2);
	n = strcspn(buf, "\n");
	buf[n] = '\0';
}

void log_msg(int level, const char *fmt, ...)
{
	FILE *out = log_file ? log_file : stderr;
	int saved = errno;
	va_list ap;

	if (capture_buf) {
		if (level == LOG_ERR) {
			va_start(ap, fmt);
			capture(capture_buf, capture_len, fmt, ap);
			va_end(ap);
		}
		level = LOG_DEBUG;
	}
	/* Errors always reach the user's terminal, even with -o. */
	if (level == LOG_ERR) {
		log_errors++;
		va_start(ap, fmt);
		capture(first_error, sizeof(first_error), fmt, ap);
		va_end(ap);
	}
	if (level > log_level && !(level == LOG_ERR))
		return;
	/* A message never lands in the middle of the progress line. */
	progress_clear();
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	if (log_file && level == LOG_ERR) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}
