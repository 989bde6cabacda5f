/* Owns the progress line (progress.h): when it is drawn, at most four
 * times a second and only after the first second, and its clearing, so
 * that a log message or the end of the command never shares its line. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "progress.h"

#define PROGRESS_DELAY_US 1000000
#define PROGRESS_EVERY_US 250000

static struct {
	bool on;
	bool shown;
	const char *what;
	unsigned int done, total;
	uint64_t pages;
	uint64_t t_start, t_drawn, delay_us;
} pg;

/* LMPROC_PROGRESS_AFTER_MS: how long a command runs before its line
 * shows (default a second; 0 for tests, whose commands are quick). */
static uint64_t progress_delay_us(void)
{
	const char *s = getenv("LMPROC_PROGRESS_AFTER_MS");
	char *end;
	unsigned long ms;

	if (!s || !*s)
		return PROGRESS_DELAY_US;
	ms = strtoul(s, &end, 10);
	return *end ? PROGRESS_DELAY_US : ms * 1000;
}

void progress_start(bool on, const char *what)
{
	pg.on = on && isatty(STDERR_FILENO);
	pg.shown = false;
	pg.what = what;
	pg.done = pg.total = 0;
	pg.pages = 0;
	pg.t_start = now_us();
	pg.t_drawn = 0;
	pg.delay_us = progress_delay_us();
}

static void draw(uint64_t now)
{
	double mib = pg.pages * (double)PAGE_SIZE / (1024 * 1024);
	double secs = (now - pg.t_start) / 1e6;

	fprintf(stderr, "\r\033[K%s: %u/%u processes, %.1f MiB, %.1f MiB/s", pg.what, pg.done,
		pg.total, mib, secs > 0 ? mib / secs : 0);
	fflush(stderr);
	pg.shown = true;
	pg.t_drawn = now;
}

static void tick(void)
{
	uint64_t now;

	if (!pg.on)
		return;
	now = now_us();
	if (now - pg.t_start < pg.delay_us || now - pg.t_drawn < PROGRESS_EVERY_US)
		return;
	draw(now);
}

void progress_procs(unsigned int done, unsigned int total, uint64_t nr_pages)
{
	pg.done = done;
	pg.total = total;
	pg.pages += nr_pages;
	tick();
}

void progress_pages(uint64_t nr_pages)
{
	pg.pages += nr_pages;
	tick();
}

void progress_clear(void)
{
	if (!pg.shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	pg.shown = false;
	/* Drawn again at the next update, not a quarter second later. */
	pg.t_drawn = 0;
}

void progress_end(void)
{
	progress_clear();
	pg.on = false;
}
