/*
 * ghost_private DIR: files deleted while mapped (dump with --ghost-limit 1M).
 *
 *   DIR/private.bin, 6 pages of a per-run pattern, mapped MAP_PRIVATE read-write; page 2 then modified
 *   through the mapping (a private copy the file does not have); fd closed, file unlinked
 *   DIR/shared.bin, 2 pages, mapped MAP_SHARED read-write, modified through the mapping, fd closed,
 *   unlinked
 * After go: the modified page and the untouched ones, the shared one's content, and that the areas are
 * still mappings of deleted files in DIR (maps shows "DIR/... (deleted)" and an inode) at the same
 * addresses. The name itself may differ: a restored file is re-created without one (O_TMPFILE shows
 * as "DIR/#INODE (deleted)").
 */
#include "tftest.h"
#include <sys/mman.h>

#define PAGE 4096
#define PAGES 6

static unsigned char pattern[PAGES * PAGE];
static unsigned char *priv, *shared;

static unsigned char *map_deleted(const char *dir, const char *name, size_t len, int flags)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, pattern, len) != (ssize_t)len)
		tf_die("create %s", path);
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED)
		tf_die("mmap %s", path);
	close(fd);
	if (unlink(path) != 0)
		tf_die("unlink %s", path);
	return p;
}

static void check_area(void *addr, const char *dir)
{
	char line[4096];
	tf_check(tf_maps_line(addr, line, sizeof(line)), "no area at %p any more", addr);
	const char *suffix = " (deleted)";
	size_t l = strlen(line), sl = strlen(suffix);
	const char *path = strchr(line, '/');
	tf_check(path && strncmp(path, dir, strlen(dir)) == 0 && path[strlen(dir)] == '/' && l > sl
		 && strcmp(line + l - sl, suffix) == 0,
		 "the area at %p is \"%s\", not a mapping of a deleted file in %s", addr, line, dir);
	unsigned long start, end, off, inode;
	char perms[8], dev[16];
	tf_check(sscanf(line, "%lx-%lx %7s %lx %15s %lu", &start, &end, perms, &off, dev, &inode) == 6 && inode != 0,
		 "the area at %p has no inode: \"%s\"", addr, line);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		tf_die("usage: ghost_private DIR");
	uint64_t state = tf_seed();
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (unsigned char)tf_next(&state);

	priv = map_deleted(argv[1], "private.bin", sizeof(pattern), MAP_PRIVATE);
	shared = map_deleted(argv[1], "shared.bin", 2 * PAGE, MAP_SHARED);
	for (int i = 0; i < PAGE; i++)
		priv[2 * PAGE + i] = (unsigned char)~pattern[2 * PAGE + i];
	memset(shared + 100, 's', 50);

	tf_ready();
	tf_wait_go();

	for (int p = 0; p < PAGES; p++) {
		int same = 1;
		for (int i = 0; i < PAGE; i++) {
			unsigned char want = p == 2 ? (unsigned char)~pattern[p * PAGE + i] : pattern[p * PAGE + i];
			if (priv[p * PAGE + i] != want) {
				same = 0;
				break;
			}
		}
		tf_check(same, "page %d of the private mapping differs%s", p, p == 2 ? " (the modified one)" : "");
	}
	unsigned char want[2 * PAGE];
	memcpy(want, pattern, sizeof(want));
	memset(want + 100, 's', 50);
	tf_check(memcmp(shared, want, sizeof(want)) == 0, "the shared mapping's content differs");
	check_area(priv, argv[1]);
	check_area(shared, argv[1]);
	return tf_finish();
}
