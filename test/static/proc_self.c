/* /proc/self views of the mm: cmdline, environ, auxv, exe, comm, and the
 * mm fields in /proc/self/stat (start_code ... env_end), all compared byte
 * for byte with copies taken before the checkpoint; argv and environ
 * strings still readable through their pointers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "test.h"

#define BUF	(64 * 1024)

static const char *const view_paths[] = {
	"/proc/self/cmdline", "/proc/self/environ", "/proc/self/auxv", "/proc/self/comm",
};

#define NR_VIEWS (sizeof(view_paths) / sizeof(view_paths[0]))

static struct {
	char before[BUF];
	ssize_t len;
} views[NR_VIEWS];

/* Fields 26-28 (start_code, end_code, start_stack) and 45-51 (start_data
 * ... env_end) of /proc/self/stat. */
static void mm_fields(unsigned long *out)
{
	char buf[4096], *p;
	int field = 3, k = 0;
	ssize_t n;

	n = test_read_file("/proc/self/stat", buf, sizeof(buf) - 1);
	if (n <= 0)
		fail("can't read /proc/self/stat");
	buf[n] = '\0';
	p = strrchr(buf, ')') + 2;
	for (; *p && k < 10; field++) {
		if ((field >= 26 && field <= 28) || (field >= 45 && field <= 51))
			out[k++] = strtoul(p, NULL, 10);
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	if (k != 10)
		fail("can't parse /proc/self/stat");
}

int main(int argc, char **argv)
{
	static char after[BUF], exe_before[4096], exe_after[4096];
	static const char *const mm_names[] = { "start_code", "end_code", "start_stack",
		"start_data", "end_data", "start_brk", "arg_start", "arg_end", "env_start",
		"env_end" };
	unsigned long mm_before[10], mm_after[10];
	char *argv_copy[16], name_before[17] = "", name_after[17] = "";
	char **env = environ;
	int nr_args = argc < 16 ? argc : 16;

	test_init(argc, argv);
	for (size_t i = 0; i < NR_VIEWS; i++) {
		views[i].len = test_read_file(view_paths[i], views[i].before, BUF);
		if (views[i].len <= 0)
			fail("can't read %s", view_paths[i]);
	}
	for (int i = 0; i < nr_args; i++)
		argv_copy[i] = strdup(argv[i]);
	if (readlink("/proc/self/exe", exe_before, sizeof(exe_before) - 1) < 0)
		fail("readlink /proc/self/exe: %s", strerror(errno));
	prctl(PR_GET_NAME, name_before);
	mm_fields(mm_before);

	test_waitsig();

	for (size_t i = 0; i < NR_VIEWS; i++) {
		ssize_t n = test_read_file(view_paths[i], after, BUF);

		if (n != views[i].len || memcmp(after, views[i].before, n))
			fail("%s changed (%zd bytes, was %zd)", view_paths[i], n, views[i].len);
	}
	for (int i = 0; i < nr_args; i++)
		if (strcmp(argv[i], argv_copy[i]))
			fail("argv[%d] is '%s', was '%s'", i, argv[i], argv_copy[i]);
	if (environ != env)
		fail("environ moved");
	for (char **e = env; *e; e++)
		if (!memmem(views[1].before, views[1].len, *e, strlen(*e) + 1))
			fail("environment string '%s' is not in the saved environ", *e);
	if (readlink("/proc/self/exe", exe_after, sizeof(exe_after) - 1) < 0 ||
	    strcmp(exe_before, exe_after))
		fail("/proc/self/exe is '%s', was '%s'", exe_after, exe_before);
	prctl(PR_GET_NAME, name_after);
	if (strcmp(name_before, name_after))
		fail("task name is '%s', was '%s'", name_after, name_before);
	mm_fields(mm_after);
	for (int i = 0; i < 10; i++)
		if (mm_before[i] != mm_after[i])
			fail("%s is %#lx, was %#lx", mm_names[i], mm_after[i], mm_before[i]);
	pass();
}
