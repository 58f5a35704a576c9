/*
 * proc_identity: what ps, top and /proc show about the process is the same after a restore.
 *
 * Before READY: the thread name is set to "tf-identity" (prctl PR_SET_NAME), and /proc/self/exe,
 * /proc/self/cmdline, /proc/self/environ, /proc/self/auxv and the ranges of the command line and the
 * environment (fields 48-51 of /proc/self/stat) are recorded.
 * After go: all of them are the same, and the exe link still names an existing file, this binary.
 */
#include "tftest.h"
#include <sys/prctl.h>
#include <sys/stat.h>

struct blob {
	char data[16384];
	ssize_t len;
};

static struct blob exe_before, cmdline_before, environ_before, auxv_before, comm_before, ranges_before;

static void slurp(const char *path, struct blob *b)
{
	int fd = open(path, O_RDONLY);
	b->len = -1;
	if (fd < 0)
		return;
	size_t len = 0;
	ssize_t n;
	while (len < sizeof(b->data) && (n = read(fd, b->data + len, sizeof(b->data) - len)) > 0)
		len += (size_t)n;
	close(fd);
	b->len = (ssize_t)len;
}

static void read_exe(struct blob *b)
{
	b->len = readlink("/proc/self/exe", b->data, sizeof(b->data) - 1);
	if (b->len >= 0)
		b->data[b->len] = 0;
}

/* Fields 48 to 51 of /proc/self/stat: arg_start arg_end env_start env_end. */
static void read_ranges(struct blob *b)
{
	struct blob stat;
	slurp("/proc/self/stat", &stat);
	b->len = 0;
	if (stat.len <= 0)
		return;
	stat.data[stat.len < (ssize_t)sizeof(stat.data) ? stat.len : (ssize_t)sizeof(stat.data) - 1] = 0;
	char *p = strrchr(stat.data, ')');
	if (!p)
		return;
	p += 2;
	for (int field = 3; field < 48 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return;
	unsigned long v[4] = { 0 };
	sscanf(p, "%lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3]);
	b->len = snprintf(b->data, sizeof(b->data), "arg %lx-%lx env %lx-%lx", v[0], v[1], v[2], v[3]);
}

static void compare(const char *what, const struct blob *before, const struct blob *now)
{
	tf_check(before->len == now->len && memcmp(before->data, now->data, (size_t)now->len) == 0,
		 "%s differs (%zd bytes, was %zd bytes)", what, now->len, before->len);
}

int main(void)
{
	if (prctl(PR_SET_NAME, "tf-identity") != 0)
		tf_die("PR_SET_NAME");
	read_exe(&exe_before);
	slurp("/proc/self/cmdline", &cmdline_before);
	slurp("/proc/self/environ", &environ_before);
	slurp("/proc/self/auxv", &auxv_before);
	slurp("/proc/self/comm", &comm_before);
	read_ranges(&ranges_before);
	if (exe_before.len <= 0 || cmdline_before.len <= 0 || auxv_before.len <= 0 || ranges_before.len <= 0)
		tf_die("reading /proc/self");

	tf_ready();
	tf_wait_go();

	struct blob now;
	read_exe(&now);
	tf_check(now.len == exe_before.len && strcmp(now.data, exe_before.data) == 0,
		 "/proc/self/exe is \"%s\", was \"%s\"", now.len > 0 ? now.data : "?", exe_before.data);
	struct stat a, b;
	tf_check(stat("/proc/self/exe", &a) == 0 && stat(exe_before.data, &b) == 0 && a.st_ino == b.st_ino &&
		 a.st_dev == b.st_dev, "/proc/self/exe is not the file %s", exe_before.data);
	slurp("/proc/self/cmdline", &now);
	compare("/proc/self/cmdline", &cmdline_before, &now);
	slurp("/proc/self/environ", &now);
	compare("/proc/self/environ", &environ_before, &now);
	slurp("/proc/self/comm", &now);
	tf_check(now.len == comm_before.len && memcmp(now.data, comm_before.data, (size_t)now.len) == 0,
		 "/proc/self/comm is \"%.*s\", was \"%.*s\"", (int)(now.len > 0 ? now.len - 1 : 0), now.data,
		 (int)(comm_before.len - 1), comm_before.data);
	read_ranges(&now);
	tf_check(strcmp(now.data, ranges_before.data) == 0, "/proc/self/stat says %s, said %s", now.data,
		 ranges_before.data);
	slurp("/proc/self/auxv", &now);
	if (now.len != auxv_before.len) {
		tf_check(0, "/proc/self/auxv has %zd bytes, had %zd", now.len, auxv_before.len);
	} else {
		const unsigned long *x = (const unsigned long *)now.data, *y = (const unsigned long *)auxv_before.data;
		for (ssize_t i = 0; i + 1 < now.len / (ssize_t)sizeof(long); i += 2)
			tf_check(x[i] == y[i] && x[i + 1] == y[i + 1], "auxv entry %zd: type %lu value 0x%lx, was type %lu value 0x%lx",
				 i / 2, x[i], x[i + 1], y[i], y[i + 1]);
	}
	return tf_finish();
}
