#!/usr/bin/env python3
"""counter.py [LIMIT]: prints 1, 2, 3, ... one number every 0.5 s (flushed), up to LIMIT if given,
then exits 0. A single-threaded demo for telefork:

    python3 examples/counter.py &               # start it
    ./telefork dump $! /tmp/counter.img         # image written, process killed
    ./telefork restore /tmp/counter.img         # it goes on from the next number, not from 1

The count lives only in the interpreter's memory, so a restored process that continues from where it
was proves that the heap, the stack and the interpreter state all came back.
"""
import sys
import time


def main() -> int:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else None
    n = 0
    while limit is None or n < limit:
        n += 1
        print(n, flush=True)
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
