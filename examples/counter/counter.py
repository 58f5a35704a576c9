#!/usr/bin/env python3
"""The telefork Kubernetes example workload: counts up once a second and prints the count, the host name
and its PID. The count lives only in the interpreter's memory, so a restored pod that goes on from where
the checkpoint was (and not from 1) shows that the process itself came back.

It handles SIGTERM (restored processes get their handlers back), so `kubectl delete pod` ends it at once.
"""
import os
import signal
import socket
import sys
import time


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    n = 0
    while True:
        n += 1
        print(f"{n} host={socket.gethostname()} pid={os.getpid()}", flush=True)
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
