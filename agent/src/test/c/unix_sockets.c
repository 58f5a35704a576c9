/*
 * unix_sockets DIR [OUTSIDE|- [DGRAM_PEER]]: unix sockets bound to names come back on the same names.
 *
 *   stream listener on DIR/l.sock (non-blocking), stream listener on an abstract name, seqpacket listener
 *   on DIR/sp.sock, datagram socket bound to DIR/d.sock, datagram socket bound to an abstract name, and a
 *   connection accepted from the path listener (both ends here, bytes queued), and a stream listener bound
 *   to the relative name "rel.sock" with DIR as the working directory.
 *   With OUTSIDE (a path another process listens on): a stream socket connected to it.
 *   With DGRAM_PEER (a path another process's datagram socket is bound to): an unnamed datagram socket
 *   connected to it; after go it sends "hello-dgram" through it (the other process checks it arrives).
 * After go: the same names; new clients connect to every listener and are accepted; datagrams sent to
 * both bound datagram sockets arrive; the accepted pair still carries its bytes. After a restore
 * (TF_EXPECT_RESTORE) the socket connected to the other process reads end of file and writing to it
 * fails with EPIPE (its peer cannot follow); plainly it still works.
 * The socket files stay in DIR after the dump killed the original: the restore must replace them.
 */
#include "tftest.h"
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>

static socklen_t name(struct sockaddr_un *a, const char *dir, const char *file, int abstract)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (abstract) {
		snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "telefork-%s-%d", file, (int)getpid());
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->sun_path + 1));
	}
	snprintf(a->sun_path, sizeof(a->sun_path), "%s/%s", dir, file);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1);
}

static int bound(int type, struct sockaddr_un *a, socklen_t len, int listening)
{
	int s = socket(AF_UNIX, type, 0);
	if (s < 0 || bind(s, (struct sockaddr *)a, len) != 0 || (listening && listen(s, 8) != 0))
		tf_die("bind/listen %s%s", a->sun_path[0] ? "" : "@", a->sun_path[0] ? a->sun_path : a->sun_path + 1);
	return s;
}

static int same_name(int s, struct sockaddr_un *a, socklen_t len)
{
	struct sockaddr_un got;
	socklen_t glen = sizeof(got);
	if (getsockname(s, (struct sockaddr *)&got, &glen) != 0)
		return 0;
	return glen == len && memcmp(&got, a, len) == 0;
}

static void check_listener(int l, int type, struct sockaddr_un *a, socklen_t len, const char *what)
{
	tf_check(same_name(l, a, len), "%s lost its name", what);
	int c = socket(AF_UNIX, type, 0);
	tf_check(connect(c, (struct sockaddr *)a, len) == 0, "cannot connect to %s: %s", what, strerror(errno));
	struct pollfd p = {.fd = l, .events = POLLIN};
	poll(&p, 1, 2000);
	int s = accept(l, NULL, NULL);
	tf_check(s >= 0, "%s accepts nothing", what);
	char b = 0;
	tf_check(s >= 0 && write(c, "z", 1) == 1 && read(s, &b, 1) == 1 && b == 'z', "no data through %s", what);
	close(c);
	if (s >= 0)
		close(s);
}

static void check_dgram(int d, struct sockaddr_un *a, socklen_t len, const char *what)
{
	tf_check(same_name(d, a, len), "%s lost its name", what);
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	tf_check(sendto(s, "dg", 2, 0, (struct sockaddr *)a, len) == 2, "cannot send to %s: %s", what, strerror(errno));
	char b[4] = {0};
	struct pollfd p = {.fd = d, .events = POLLIN};
	poll(&p, 1, 2000);
	tf_check(recv(d, b, sizeof(b), MSG_DONTWAIT) == 2 && memcmp(b, "dg", 2) == 0, "no datagram on %s", what);
	close(s);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		tf_die("usage: unix_sockets DIR [OUTSIDE|- [DGRAM_PEER]]");
	const char *dir = argv[1];
	struct sockaddr_un al, aa, asp, ad, ada;
	socklen_t ll = name(&al, dir, "l.sock", 0), la = name(&aa, dir, "stream", 1), lsp = name(&asp, dir, "sp.sock", 0),
		  ld = name(&ad, dir, "d.sock", 0), lda = name(&ada, dir, "dgram", 1);
	int l = bound(SOCK_STREAM, &al, ll, 1);
	int abs_l = bound(SOCK_STREAM, &aa, la, 1);
	int sp = bound(SOCK_SEQPACKET, &asp, lsp, 1);
	int d = bound(SOCK_DGRAM, &ad, ld, 0);
	int dabs = bound(SOCK_DGRAM, &ada, lda, 0);
	fcntl(l, F_SETFL, O_NONBLOCK);
	if (chdir(dir) != 0)
		tf_die("chdir %s", dir);
	struct sockaddr_un arel;
	memset(&arel, 0, sizeof(arel));
	arel.sun_family = AF_UNIX;
	strcpy(arel.sun_path, "rel.sock");
	socklen_t lrel = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(arel.sun_path) + 1);
	int rel = bound(SOCK_STREAM, &arel, lrel, 1);

	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&al, ll) != 0)
		tf_die("connect to own listener");
	struct pollfd p = {.fd = l, .events = POLLIN};
	poll(&p, 1, 2000);
	int a = accept(l, NULL, NULL);
	if (a < 0)
		tf_die("accept");
	tf_write_all(c, "to-a", 4);

	int o = -1;
	if (argc > 2 && strcmp(argv[2], "-") != 0) {
		struct sockaddr_un ao;
		memset(&ao, 0, sizeof(ao));
		ao.sun_family = AF_UNIX;
		snprintf(ao.sun_path, sizeof(ao.sun_path), "%s", argv[2]);
		o = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(o, (struct sockaddr *)&ao, sizeof(ao)) != 0)
			tf_die("connect to %s", argv[2]);
	}

	int dc = -1;
	if (argc > 3) {
		struct sockaddr_un ap;
		memset(&ap, 0, sizeof(ap));
		ap.sun_family = AF_UNIX;
		snprintf(ap.sun_path, sizeof(ap.sun_path), "%s", argv[3]);
		dc = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (connect(dc, (struct sockaddr *)&ap, sizeof(ap)) != 0)
			tf_die("connect to %s", argv[3]);
	}

	tf_ready();
	tf_wait_go();

	tf_check((fcntl(l, F_GETFL) & O_NONBLOCK) != 0, "the path listener lost O_NONBLOCK");
	check_listener(l, SOCK_STREAM, &al, ll, "the path listener");
	check_listener(abs_l, SOCK_STREAM, &aa, la, "the abstract listener");
	check_listener(rel, SOCK_STREAM, &arel, lrel, "the listener on a relative name");
	struct stat st;
	tf_check(stat("rel.sock", &st) == 0 && S_ISSOCK(st.st_mode), "rel.sock is not a socket in the working directory");
	check_listener(sp, SOCK_SEQPACKET, &asp, lsp, "the seqpacket listener");
	check_dgram(d, &ad, ld, "the path datagram socket");
	check_dgram(dabs, &ada, lda, "the abstract datagram socket");
	char b[8] = {0};
	tf_check(read(a, b, 4) == 4 && memcmp(b, "to-a", 4) == 0, "the accepted connection lost its bytes");
	tf_check(write(a, "k", 1) == 1 && read(c, b, 1) == 1 && b[0] == 'k', "the accepted pair no longer connects");

	if (o >= 0) {
		if (getenv("TF_EXPECT_RESTORE")) {
			tf_check(read(o, b, 1) == 0, "the connection to another process did not come back closed");
			tf_check(send(o, "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE,
				 "writing to the closed connection did not fail with EPIPE");
		} else {
			tf_check(write(o, "x", 1) == 1, "cannot write to the other process");
		}
	}
	if (dc >= 0)
		tf_check(send(dc, "hello-dgram", 11, 0) == 11, "the datagram socket cannot send to its peer: %s", strerror(errno));
	return tf_finish();
}
