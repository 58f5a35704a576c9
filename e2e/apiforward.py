#!/usr/bin/env python3
"""Host-side TCP forwarder for the e2e cluster's API server.

  apiforward.py LISTEN_PORT NETNS_PATH TARGET_HOST TARGET_PORT PIDFILE

Listens on 127.0.0.1:LISTEN_PORT in the host network namespace, then moves itself (setns) into
NETNS_PATH (e.g. /run/netns/cp) so that every outgoing connection to TARGET_HOST:TARGET_PORT is made
inside that namespace. Plain TCP relay: TLS stays end to end (the API server's certificate has
127.0.0.1 among its addresses). Nothing is added to the host's network configuration.
"""
import ctypes, os, socket, sys, threading

CLONE_NEWNET = 0x40000000


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(client, host, port):
    try:
        upstream = socket.create_connection((host, port), timeout=10)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    t = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    t.start()
    pump(client, upstream)
    t.join()
    client.close()
    upstream.close()


def main():
    listen_port, netns, host, port, pidfile = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(listen_port)))
    ls.listen(128)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(netns, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns " + netns)
    os.close(fd)
    with open(pidfile, "w") as f:
        f.write(str(os.getpid()))
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c, host, port), daemon=True).start()


if __name__ == "__main__":
    main()
