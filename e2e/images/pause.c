/* Minimal pod sandbox ("pause") process: sleeps until told to stop, reaps children. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) { (void)sig; _exit(0); }
static void on_chld(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }

int main(void) {
    signal(SIGINT, on_term);
    signal(SIGTERM, on_term);
    signal(SIGCHLD, on_chld);
    for (;;) pause();
}
