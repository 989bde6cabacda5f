/* Owns the log destination and level; knows nothing of what is logged. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "log.h"

static int log_level = LOG_WARN;
static FILE *log_file;
static unsigned int log_errors;
static char *capture_buf;
static size_t capture_len;

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

static void capture(const char *fmt, va_list ap)
{
	static const char prefix[] = "Error: ";
	size_t n;

	if (!capture_len || capture_buf[0])
		return;
	vsnprintf(capture_buf, capture_len, fmt, ap);
	if (!strncmp(capture_buf, prefix, sizeof(prefix) - 1))
		memmove(capture_buf, capture_buf + sizeof(prefix) - 1,
			strlen(capture_buf) - sizeof(prefix) + 2);
	n = strcspn(capture_buf, "\n");
	capture_buf[n] = '\0';
}

void log_msg(int level, const char *fmt, ...)
{
	FILE *out = log_file ? log_file : stderr;
	int saved = errno;
	va_list ap;

	if (capture_buf) {
		if (level == LOG_ERR) {
			va_start(ap, fmt);
			capture(fmt, ap);
			va_end(ap);
		}
		level = LOG_DEBUG;
	}
	/* Errors always reach the user's terminal, even with -o. */
	if (level == LOG_ERR)
		log_errors++;
	if (level > log_level && !(level == LOG_ERR))
		return;
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
