/*
 * subreaper COMMAND [ARG...]: runs COMMAND as a child subreaper, so that any process COMMAND leaves
 * behind becomes our child. After COMMAND exits, waits up to 2 s for such orphans to end, then kills
 * the ones still alive and reports them. The last line on stderr is always "subreaper: strays=N".
 * Exits with COMMAND's exit status (128+signal if it was killed).
 * Not a test program: the harness uses it to prove that a failed restore leaves no process behind.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Lists our live (non-zombie) children into pids; returns how many. */
static int live_children(pid_t *pids, int max)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t self = getpid();
	while (d && (e = readdir(d)) != NULL && n < max) {
		pid_t pid = atoi(e->d_name);
		if (pid <= 0)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = 0;
		char *p = strrchr(buf, ')');
		char state;
		int ppid;
		if (p && sscanf(p + 2, "%c %d", &state, &ppid) == 2 && ppid == self && state != 'Z')
			pids[n++] = pid;
	}
	if (d)
		closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: subreaper COMMAND [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		perror("subreaper: prctl");
		return 2;
	}
	pid_t child = fork();
	if (child < 0) {
		perror("subreaper: fork");
		return 2;
	}
	if (child == 0) {
		execvp(argv[1], argv + 1);
		perror("subreaper: exec");
		_exit(127);
	}
	int status = 0, code = 0;
	for (;;) {
		pid_t w = waitpid(-1, &status, 0);
		if (w == child) {
			code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			break;
		}
		if (w < 0 && errno != EINTR) {
			perror("subreaper: waitpid");
			return 2;
		}
	}
	pid_t pids[256];
	int n = 0;
	for (int i = 0; i < 40; i++) { /* up to 2 s */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		n = live_children(pids, 256);
		if (n == 0)
			break;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < n; i++) {
		char path[64], cmd[256] = "";
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pids[i]);
		FILE *f = fopen(path, "r");
		if (f) {
			size_t len = fread(cmd, 1, sizeof(cmd) - 1, f);
			fclose(f);
			for (size_t j = 0; j + 1 < len; j++)
				if (cmd[j] == 0)
					cmd[j] = ' ';
			cmd[len] = 0;
		}
		fprintf(stderr, "subreaper: stray process %d left behind: %s\n", pids[i], cmd);
		kill(pids[i], SIGKILL);
	}
	for (int i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	fprintf(stderr, "subreaper: strays=%d\n", n);
	return code;
}
