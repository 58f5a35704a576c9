#!/usr/bin/env bash
# pipeline.sh [COUNT]: a producer | consumer pipeline, a process tree for telefork to dump mid-stream:
#
#   ./examples/pipeline.sh 300 &                      # bash, a producer and a consumer subshell, sleeps
#   ./telefork dump $! /tmp/pipeline.img              # all of them, and the numbers buffered in the pipe
#   ./telefork restore /tmp/pipeline.img              # it goes on; the consumer checks that no number is lost
#
# The producer prints 1..COUNT, sleeping (with /usr/bin/sleep, a child of its own) every 10 numbers;
# the consumer (bash's read, which never reads ahead of a line) says where it is every 50 numbers and,
# at the end, how many it read, and exits 1 if a number is missing, repeated or out of order.
count=${1:-300}
for ((i = 1; i <= count; i++)); do
    echo "$i"
    if ((i % 10 == 0)); then
        /usr/bin/sleep 0.1
    fi
done | {
    prev=0 bad=0 read_count=0
    while read -r n; do
        if ((n != prev + 1)); then
            echo "GAP after $prev: $n"
            bad=1
        fi
        prev=$n
        read_count=$((read_count + 1))
        if ((n % 50 == 0)); then
            echo "at $n"
        fi
    done
    echo "COUNT $read_count"
    ((bad == 0 && read_count == count))
}
