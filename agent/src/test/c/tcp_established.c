/*
 * tcp_established PORT SEED_OUT SEED_IN IN_BYTES MORE_BYTES: one end of a TCP connection on 127.0.0.1
 * whose other end is the test (TcpConnectionsIT), with bytes in flight both ways when it is dumped with
 * --tcp-established.
 *
 * Before READY: connect to 127.0.0.1:PORT; write the stream SEED_OUT without blocking until the socket
 * takes no more (the peer reads nothing yet, so the peer's receive buffer is full and our send queue holds
 * the rest); print "WROTE n"; wait until the IN_BYTES bytes of stream SEED_IN the peer sends are queued for
 * us, unread. After go: read and check those IN_BYTES bytes; write MORE_BYTES more of stream SEED_OUT
 * (the peer now reads everything and checks it: n + MORE_BYTES bytes); read the peer's "ok"; no error,
 * no reset, no end of file on the way.
 */
#include "tftest.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* Byte i of a stream: its own xorshift run, so that any lost, doubled or shifted byte shows. */
static unsigned char stream_byte(uint64_t seed, uint64_t i)
{
	uint64_t s = seed ^ (i / 8 + 1) * 0x9E3779B97F4A7C15ULL;
	s |= 1;
	return (unsigned char)(tf_next(&s) >> (8 * (i % 8)));
}

static char buf[1 << 16];

int main(int argc, char **argv)
{
	if (argc != 6)
		tf_die("usage: tcp_established PORT SEED_OUT SEED_IN IN_BYTES MORE_BYTES");
	int port = atoi(argv[1]);
	uint64_t seed_out = strtoull(argv[2], NULL, 10), seed_in = strtoull(argv[3], NULL, 10);
	long in_bytes = atol(argv[4]), more = atol(argv[5]);

	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0)
		tf_die("connect to the peer");
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	/* Fill the pipe towards the peer: its receive buffer, then our send queue. */
	uint64_t out = 0;
	for (int idle = 0; idle < 20;) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (char)stream_byte(seed_out, out + i);
		ssize_t n = send(s, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			out += (uint64_t)n;
			idle = 0;
		} else if (n < 0 && errno == EAGAIN) {
			idle++; /* the window may still open a little: a few more tries */
			usleep(10000);
		} else {
			tf_die("send");
		}
	}
	int unsent = 0, queued = 0;
	ioctl(s, SIOCOUTQ, &queued);
	ioctl(s, SIOCOUTQNSD, &unsent);
	tf_info("wrote %llu bytes, %d still queued here (%d never sent)\n", (unsigned long long)out, queued, unsent);
	tf_printf(1, "WROTE %llu\n", (unsigned long long)out);

	for (int waited = 0;; waited++) {
		int inq = 0;
		ioctl(s, FIONREAD, &inq);
		if (inq >= in_bytes)
			break;
		if (waited > 1000)
			tf_die("the peer's %ld bytes did not arrive (%d)", in_bytes, inq);
		usleep(10000);
	}

	tf_ready();
	tf_wait_go();

	long got = 0, bad = -1;
	while (got < in_bytes) {
		ssize_t n = recv(s, buf, (size_t)(in_bytes - got) < sizeof(buf) ? (size_t)(in_bytes - got) : sizeof(buf), 0);
		if (n <= 0) {
			tf_check(0, "reading the peer's queued bytes: %s after %ld of %ld", n == 0 ? "end of file" : strerror(errno),
				 got, in_bytes);
			return tf_finish();
		}
		for (ssize_t i = 0; i < n && bad < 0; i++)
			if ((unsigned char)buf[i] != stream_byte(seed_in, (uint64_t)(got + i)))
				bad = got + i;
		got += n;
	}
	tf_check(bad < 0, "byte %ld of the peer's stream differs", bad);

	for (long done = 0; done < more;) {
		size_t len = (size_t)(more - done) < sizeof(buf) ? (size_t)(more - done) : sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)stream_byte(seed_out, out + i);
		ssize_t n = send(s, buf, len, 0);
		if (n <= 0) {
			tf_check(0, "writing more after the restore: %s", strerror(errno));
			return tf_finish();
		}
		out += (uint64_t)n;
		done += n;
	}

	char ok[3] = {0};
	ssize_t n = recv(s, ok, 2, MSG_WAITALL);
	tf_check(n == 2 && memcmp(ok, "ok", 2) == 0, "the peer's final ok: %zd bytes (%s)", n,
		 n < 0 ? strerror(errno) : "");
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
	tf_check(err == 0, "socket error %d (%s)", err, strerror(err));
	return tf_finish();
}
