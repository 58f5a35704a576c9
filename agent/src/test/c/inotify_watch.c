/*
 * inotify_watch DIR: inotify instances keep their watches, with the same watch descriptors and masks.
 *
 *   fd 10: inotify_init1(IN_NONBLOCK): DIR/a (wd 1, IN_CREATE|IN_DELETE), DIR/b (wd 2, removed again, so
 *          wd 2 is a gap), DIR/c/f (wd 3, IN_MODIFY|IN_ONESHOT), DIR/link, a symlink (wd 4, IN_ATTRIB with
 *          IN_DONT_FOLLOW: the link itself)
 *   fd 11: inotify_init1(0), blocking: DIR (wd 1, IN_ALL_EVENTS|IN_EXCL_UNLINK)
 * After go: the fdinfo watch lines (wd, inode, mask) as before; no event queued (the restore's own work
 * leaves none); re-adding DIR/a and DIR/c/f returns wd 1 and 3; a file created in DIR/a is reported on
 * wd 1 with its name, a write to DIR/c/f on wd 3, a file created in DIR on wd 1 of fd 11; the status
 * flags of both instances.
 * Events queued at the dump are lost (documented), so none are left queued before READY.
 */
#include "tftest.h"
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>

static char dir[3000], watches10[4096], watches11[4096];

static void path_of(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

/* The "inotify wd:.. ino:.. sdev:.. mask:.." part of each watch line of fdinfo, concatenated. */
static void watch_lines(int fd, char *out, size_t size)
{
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	if (!f)
		tf_die("open %s", path);
	out[0] = 0;
	size_t len = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "inotify ", 8) != 0)
			continue;
		char *end = strstr(line, " ignored_mask:");
		if (end)
			*end = 0;
		len += (size_t)snprintf(out + len, size - len, "%s;", line);
	}
	fclose(f);
}

static int add(int fd, const char *name, uint32_t mask)
{
	char p[4096];
	path_of(p, sizeof(p), name);
	return inotify_add_watch(fd, p, mask);
}

static void touch(const char *name, const char *content)
{
	char p[4096];
	path_of(p, sizeof(p), name);
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
		tf_die("write %s", p);
	close(fd);
}

/* Reads one event from fd (waiting up to a second); 0 if none came. */
static int next_event(int fd, struct inotify_event *ev, size_t size)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 1000) != 1)
		return 0;
	ssize_t n = read(fd, ev, size);
	return n >= (ssize_t)sizeof(*ev);
}

/*
 * Whether an IN_CREATE of NAME on wd 1 comes within a second, among other events: DIR is where the
 * harness writes and reads the image, which fd 11 sees too.
 */
static int find_create(int fd, const char *name)
{
	char buf[4096] __attribute__((aligned(8)));
	for (int tries = 0; tries < 64; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 1000) != 1)
			return 0;
		ssize_t n = read(fd, buf, sizeof(buf));
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			struct inotify_event *ev = (struct inotify_event *)(buf + off);
			if (ev->wd == 1 && (ev->mask & IN_CREATE) && ev->len > 0 && strcmp(ev->name, name) == 0)
				return 1;
			off += (ssize_t)(sizeof(*ev) + ev->len);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		tf_die("usage: inotify_watch DIR");
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	char p[4096], q[4096];
	const char *dirs[] = {"a", "b", "c"};
	for (int i = 0; i < 3; i++) {
		path_of(p, sizeof(p), dirs[i]);
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			tf_die("mkdir %s", p);
	}
	touch("c/f", "");
	path_of(p, sizeof(p), "link");
	path_of(q, sizeof(q), "c/f");
	unlink(p);
	if (symlink(q, p) != 0)
		tf_die("symlink");

	int a = inotify_init1(IN_NONBLOCK);
	int b = inotify_init1(0);
	if (a < 0 || b < 0 || dup2(a, 10) != 10 || dup2(b, 11) != 11)
		tf_die("inotify_init1");
	close(a);
	close(b);
	int w1 = add(10, "a", IN_CREATE | IN_DELETE);
	int w2 = add(10, "b", IN_CREATE);
	int w3 = add(10, "c/f", IN_MODIFY | IN_ONESHOT);
	if (w1 != 1 || w2 != 2 || w3 != 3 || inotify_rm_watch(10, w2) != 0)
		tf_die("watches %d %d %d", w1, w2, w3);
	int w4 = add(10, "link", IN_ATTRIB | IN_DONT_FOLLOW);
	int d1 = inotify_add_watch(11, dir, IN_ALL_EVENTS | IN_EXCL_UNLINK);
	if (w4 != 4 || d1 != 1)
		tf_die("watches %d %d", w4, d1);
	/* the IN_IGNORED of wd 2 and the events of the set-up: read out, so that the check below means something */
	char buf[4096] __attribute__((aligned(8)));
	while (read(10, buf, sizeof(buf)) > 0)
		;
	fcntl(11, F_SETFL, O_NONBLOCK);
	while (read(11, buf, sizeof(buf)) > 0)
		;
	fcntl(11, F_SETFL, 0);
	watch_lines(10, watches10, sizeof(watches10));
	watch_lines(11, watches11, sizeof(watches11));

	tf_ready();
	tf_wait_go();

	char now[4096];
	watch_lines(10, now, sizeof(now));
	tf_check(strcmp(now, watches10) == 0, "watches of fd 10 were \"%s\", now \"%s\"", watches10, now);
	watch_lines(11, now, sizeof(now));
	tf_check(strcmp(now, watches11) == 0, "watches of fd 11 were \"%s\", now \"%s\"", watches11, now);
	tf_check(fcntl(10, F_GETFL) & O_NONBLOCK, "fd 10 lost O_NONBLOCK");
	tf_check(!(fcntl(11, F_GETFL) & O_NONBLOCK), "fd 11 became O_NONBLOCK");
	errno = 0;
	tf_check(read(10, buf, sizeof(buf)) < 0 && errno == EAGAIN, "fd 10 has an event queued that nobody caused");

	struct inotify_event *ev = (struct inotify_event *)buf;
	touch("a/new", "x");
	tf_check(next_event(10, ev, sizeof(buf)) && ev->wd == 1 && (ev->mask & IN_CREATE) && strcmp(ev->name, "new") == 0,
		 "no IN_CREATE of a/new on wd 1");
	touch("c/f", "y");
	tf_check(next_event(10, ev, sizeof(buf)) && ev->wd == 3 && (ev->mask & IN_MODIFY), "no IN_MODIFY of c/f on wd 3");
	tf_check(add(10, "a", IN_CREATE | IN_DELETE) == 1, "DIR/a is not watch 1 any more");
	touch("top", "z");
	tf_check(find_create(11, "top"), "fd 11 saw no IN_CREATE of DIR/top on wd 1");
	path_of(p, sizeof(p), "a/new");
	unlink(p);
	path_of(p, sizeof(p), "top");
	unlink(p);
	return tf_finish();
}
