/*
 * sockets: TCP and UDP sockets come back on their addresses and ports; an established connection comes
 * back closed (its reads see end of file), as telefork documents.
 *
 *   fd L: a TCP socket listening on 127.0.0.1 (an ephemeral port), SO_REUSEADDR, non-blocking;
 *   fd U: a UDP socket bound to 127.0.0.1 (an ephemeral port), and fd UC: a UDP socket connected to U;
 *   fd C: a client connected to L, and fd A: the connection L accepted;
 *   a unix stream socket pair with bytes queued in both directions (as a selector's wake-up pair).
 * After go: the same ports, options and flags; a new client can connect to L and be accepted; a
 * datagram sent to U arrives, and one sent through UC (still connected to U) too; A and C read end of file after a restore (TF_EXPECT_RESTORE set by the
 * harness), and still carry data when run plainly.
 * With the argument "kept" (dumped with --tcp-established): A and C, each with bytes queued unread
 * before the dump, keep their connection: the queued bytes arrive, and more after them.
 */
#include "tftest.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

static int port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	if (getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	return ntohs(a.sin_port);
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

int main(int argc, char **argv)
{
	int kept = argc > 1 && strcmp(argv[1], "kept") == 0;
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in any = loopback(0);
	if (bind(l, (struct sockaddr *)&any, sizeof(any)) != 0 || listen(l, 16) != 0)
		tf_die("listen");
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	if (bind(u, (struct sockaddr *)&any, sizeof(any)) != 0)
		tf_die("bind udp");
	int lport = port_of(l), uport = port_of(u);
	struct sockaddr_in to_u0 = loopback(uport);
	int uc = socket(AF_INET, SOCK_DGRAM, 0);
	if (connect(uc, (struct sockaddr *)&to_u0, sizeof(to_u0)) != 0)
		tf_die("connect udp");
	int ucport = port_of(uc);
	struct sockaddr_in to_l = loopback(lport);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c, (struct sockaddr *)&to_l, sizeof(to_l)) != 0)
		tf_die("connect");
	struct pollfd pl = {.fd = l, .events = POLLIN};
	poll(&pl, 1, 1000);
	int a = accept(l, NULL, NULL);
	if (a < 0)
		tf_die("accept");

	if (kept) {
		tf_write_all(c, "c2a", 3);
		tf_write_all(a, "a2c!", 4);
		struct pollfd q[2] = {{.fd = a, .events = POLLIN}, {.fd = c, .events = POLLIN}};
		for (int i = 0; i < 100 && !((q[0].revents & POLLIN) && (q[1].revents & POLLIN)); i++)
			poll(q, 2, 20);
	}

	int up[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, up) != 0)
		tf_die("socketpair");
	tf_write_all(up[0], "to1", 3);
	tf_write_all(up[1], "to0!", 4);
	fcntl(up[1], F_SETFL, O_NONBLOCK);

	tf_ready();
	tf_wait_go();

	char ub[8] = {0};
	tf_check(read(up[1], ub, sizeof(ub)) == 3 && memcmp(ub, "to1", 3) == 0, "pair end 1 lost its queued bytes");
	memset(ub, 0, sizeof(ub));
	tf_check(read(up[0], ub, sizeof(ub)) == 4 && memcmp(ub, "to0!", 4) == 0, "pair end 0 lost its queued bytes");
	tf_check((fcntl(up[1], F_GETFL) & O_NONBLOCK) != 0, "pair end 1 lost O_NONBLOCK");
	tf_write_all(up[0], "x", 1);
	tf_check(read(up[1], ub, 1) == 1 && ub[0] == 'x', "the pair no longer connects its ends");

	tf_check(port_of(l) == lport, "listening port %d, expected %d", port_of(l), lport);
	tf_check(port_of(u) == uport, "udp port %d, expected %d", port_of(u), uport);
	int v = 0;
	socklen_t vl = sizeof(v);
	getsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, &vl);
	tf_check(v == 1, "SO_REUSEADDR lost on the listening socket");
	getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
	tf_check(v == 1, "the listening socket does not listen");
	tf_check((fcntl(l, F_GETFL) & O_NONBLOCK) != 0, "the listening socket lost O_NONBLOCK");

	int c2 = socket(AF_INET, SOCK_STREAM, 0);
	tf_check(connect(c2, (struct sockaddr *)&to_l, sizeof(to_l)) == 0, "cannot connect to the restored listener");
	poll(&pl, 1, 2000);
	int a2 = accept(l, NULL, NULL);
	tf_check(a2 >= 0, "the restored listener accepts nothing");
	if (a2 >= 0) {
		tf_write_all(c2, "hi", 2);
		char b[4] = {0};
		tf_check(read(a2, b, 2) == 2 && memcmp(b, "hi", 2) == 0, "no data over the new connection");
	}

	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to_u = loopback(uport);
	sendto(s, "dgram", 5, 0, (struct sockaddr *)&to_u, sizeof(to_u));
	char d[16] = {0};
	struct pollfd pu = {.fd = u, .events = POLLIN};
	poll(&pu, 1, 2000);
	tf_check(recv(u, d, sizeof(d), MSG_DONTWAIT) == 5 && memcmp(d, "dgram", 5) == 0, "no datagram on the udp port");
	tf_check(port_of(uc) == ucport, "connected udp socket on port %d, expected %d", port_of(uc), ucport);
	tf_check(send(uc, "conn", 4, 0) == 4, "the connected udp socket cannot send: %s", strerror(errno));
	memset(d, 0, sizeof(d));
	poll(&pu, 1, 2000);
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	tf_check(recvfrom(u, d, sizeof(d), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen) == 4 && memcmp(d, "conn", 4) == 0
		 && ntohs(from.sin_port) == ucport, "no datagram from the connected udp socket");

	char x;
	if (kept) {
		char k[8] = {0};
		tf_check(recv(a, k, sizeof(k), MSG_WAITALL | MSG_DONTWAIT) == 3 && memcmp(k, "c2a", 3) == 0,
			 "the accepted connection lost its queued bytes");
		memset(k, 0, sizeof(k));
		tf_check(recv(c, k, sizeof(k), MSG_DONTWAIT) == 4 && memcmp(k, "a2c!", 4) == 0,
			 "the client connection lost its queued bytes");
		tf_write_all(c, "more", 4);
		struct pollfd pa = {.fd = a, .events = POLLIN};
		poll(&pa, 1, 5000);
		memset(k, 0, sizeof(k));
		tf_check(recv(a, k, sizeof(k), MSG_DONTWAIT) == 4 && memcmp(k, "more", 4) == 0,
			 "the kept connection carries nothing new: %s", strerror(errno));
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
		tf_check(err == 0, "socket error %d on the kept connection", err);
	} else if (getenv("TF_EXPECT_RESTORE")) {
		struct pollfd pa[2] = {{.fd = a, .events = POLLIN}, {.fd = c, .events = POLLIN}};
		poll(pa, 2, 2000);
		tf_check(recv(a, &x, 1, MSG_DONTWAIT) == 0, "the accepted connection did not come back closed");
		tf_check(recv(c, &x, 1, MSG_DONTWAIT) == 0, "the client connection did not come back closed");
	} else {
		tf_write_all(c, "x", 1);
		struct pollfd pa = {.fd = a, .events = POLLIN};
		poll(&pa, 1, 2000);
		tf_check(recv(a, &x, 1, MSG_DONTWAIT) == 1 && x == 'x', "the first connection carries no data");
	}
	return tf_finish();
}
