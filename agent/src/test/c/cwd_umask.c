/*
 * cwd_umask DIR: the working directory, umask and resource limits survive a dump and restore.
 *
 * Before READY: chdir to "DIR/a dir" (a name with a space), umask 027, RLIMIT_NOFILE soft limit
 * lowered to 512 (hard limit unchanged), RLIMIT_CORE soft and hard lowered to 0.
 * After go: getcwd, the inode of ".", umask, the limits, and the mode of a newly created file
 * (0666 & ~027 = 0640) are as expected.
 */
#include "tftest.h"
#include <sys/resource.h>
#include <sys/stat.h>

static char cwd_before[4096];
static struct stat dot_before;
static struct rlimit nofile_before, core_before;

int main(int argc, char **argv)
{
	if (argc < 2)
		tf_die("usage: cwd_umask DIR");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/a dir", argv[1]);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		tf_die("mkdir %s", dir);
	if (chdir(dir) != 0)
		tf_die("chdir %s", dir);
	umask(027);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		tf_die("getrlimit");
	rl.rlim_cur = 512;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		tf_die("setrlimit RLIMIT_NOFILE");
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		tf_die("setrlimit RLIMIT_CORE");
	if (!getcwd(cwd_before, sizeof(cwd_before)) || stat(".", &dot_before) != 0)
		tf_die("getcwd");
	getrlimit(RLIMIT_NOFILE, &nofile_before);
	getrlimit(RLIMIT_CORE, &core_before);

	tf_ready();
	tf_wait_go();

	char cwd[4096];
	tf_check(getcwd(cwd, sizeof(cwd)) && strcmp(cwd, cwd_before) == 0, "cwd is \"%s\", expected \"%s\"", cwd, cwd_before);
	struct stat dot;
	tf_check(stat(".", &dot) == 0 && dot.st_ino == dot_before.st_ino && dot.st_dev == dot_before.st_dev,
		 "\".\" is another directory");
	mode_t mask = umask(022);
	umask(mask);
	tf_check(mask == 027, "umask is 0%o, expected 027", (unsigned)mask);
	struct rlimit now;
	getrlimit(RLIMIT_NOFILE, &now);
	tf_check(now.rlim_cur == nofile_before.rlim_cur && now.rlim_max == nofile_before.rlim_max,
		 "RLIMIT_NOFILE is %lu/%lu, expected %lu/%lu", (unsigned long)now.rlim_cur, (unsigned long)now.rlim_max,
		 (unsigned long)nofile_before.rlim_cur, (unsigned long)nofile_before.rlim_max);
	getrlimit(RLIMIT_CORE, &now);
	tf_check(now.rlim_cur == 0 && now.rlim_max == 0, "RLIMIT_CORE is %lu/%lu, expected 0/0",
		 (unsigned long)now.rlim_cur, (unsigned long)now.rlim_max);
	int fd = open("created-after-restore", O_WRONLY | O_CREAT | O_TRUNC, 0666);
	struct stat st;
	tf_check(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0640,
		 "a file created with mode 0666 has mode 0%o, expected 0640", fd >= 0 ? (unsigned)(st.st_mode & 0777) : 0);
	if (fd >= 0)
		close(fd);
	tf_check(access("created-after-restore", F_OK) == 0, "the new file is not in the working directory");
	return tf_finish();
}
