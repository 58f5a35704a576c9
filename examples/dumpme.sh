#!/usr/bin/env bash
# dumpme.sh: prints 1 to 10, one number a second, then exits 0. A demo for telefork:
#
#   ./examples/dumpme.sh &                            # start it (in a terminal, or with its output piped)
#                                                     # (or: ./examples/dumpme.sh external &, see below)
#   ./telefork dump $! /tmp/dumpme.img                # after it printed 3: image written, process killed
#   ./telefork restore /tmp/dumpme.img                # it carries on with 4 .. 10 and exits 0
#
# By default the script stays ONE process: no external commands, no command substitution or pipes; it
# sleeps with bash's loadable `sleep` builtin (Debian package bash-builtins). With the argument
# `external` it runs /usr/bin/sleep instead, a child process that is usually running when the dump
# comes: telefork dumps and restores the two together (a process tree).

if [[ "${1:-}" == external ]]; then
    for ((i = 1; i <= 10; i++)); do
        echo "$i"
        /usr/bin/sleep 1
    done
    exit 0
fi

loaded=no
for lib in "${BASH_LOADABLES_PATH:-}" /usr/lib/bash /usr/local/lib/bash /usr/lib/x86_64-linux-gnu/bash; do
    if [[ -n "$lib" && -f "$lib/sleep" ]] && enable -f "$lib/sleep" sleep 2>/dev/null; then
        loaded=yes
        break
    fi
done
if [[ $loaded != yes ]]; then
    echo "dumpme.sh: bash's loadable sleep builtin is missing (Debian/Ubuntu: apt-get install bash-builtins)" >&2
    exit 1
fi

for ((i = 1; i <= 10; i++)); do
    echo "$i"
    sleep 1
done
exit 0
