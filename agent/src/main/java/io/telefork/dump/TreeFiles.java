package io.telefork.dump;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * What the descriptors of all the processes of a tree say together: which pipe ends and sockets lie
 * inside the tree, so that a pipe or socket pair between two of its processes is rebuilt rather than
 * refused, and so that a pipe's buffered bytes are taken once for the whole tree.
 */
final class TreeFiles {
    private static final int O_ACCMODE = 3;
    private static final int O_WRONLY = 1;

    private final Map<String, PipeEnds> pipes = new HashMap<>();
    private final Set<Long> socketInodes = new HashSet<>();
    /** The FIFOs (device:inode) whose buffered bytes one descriptor of the tree has taken already. */
    private final Set<String> fifosTaken = new HashSet<>();

    /** Which ends of one pipe the tree holds, and whether its buffered bytes were taken already. */
    static final class PipeEnds {
        boolean read;
        boolean write;
        boolean contentTaken;

        /** Both ends inside the tree: it can be rebuilt, buffered bytes and all. */
        boolean inside() {
            return read && write;
        }
    }

    /** Adds one process's descriptors: fd -> what /proc/PID/fd shows, fd -> its fdinfo. */
    void add(Map<Integer, String> links, Map<Integer, Map<String, String>> infos) {
        for (Map.Entry<Integer, String> l : links.entrySet()) {
            String target = l.getValue();
            if (target.startsWith("pipe:")) {
                int flags = Integer.parseInt(infos.get(l.getKey()).getOrDefault("flags", "0"), 8);
                PipeEnds ends = pipes.computeIfAbsent(target, k -> new PipeEnds());
                if ((flags & O_ACCMODE) == O_WRONLY) {
                    ends.write = true;
                } else {
                    ends.read = true;
                }
            } else if (target.startsWith("socket:[")) {
                socketInodes.add(Long.parseLong(target.substring(8, target.length() - 1)));
            }
        }
    }

    Map<String, PipeEnds> pipes() {
        return pipes;
    }

    /** True the first time it is asked for a FIFO: that descriptor carries the FIFO's buffered bytes. */
    boolean takeFifo(long dev, long ino) {
        return fifosTaken.add(dev + ":" + ino);
    }

    Set<Long> socketInodes() {
        return socketInodes;
    }
}
