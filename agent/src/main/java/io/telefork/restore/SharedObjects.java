package io.telefork.restore;

import io.telefork.image.ImageHead;
import io.telefork.image.MemoryArea;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the processes of a tree hold in common while they are restored: each descriptor, pipe, socket
 * pair and shared memory object is made once, in the first vessel that needs it, at a temporary
 * descriptor there, and every other vessel takes that descriptor (pidfd_getfd) instead of making its own.
 * Only used on the tracer thread.
 */
final class SharedObjects {

    /** A descriptor held at {@code fd} in vessel {@code vessel}. */
    record Held(int vessel, int fd) {
    }

    /** Per (pid, fd) of the image: where that open file description is held now. */
    private final Map<Long, Held> descriptors = new HashMap<>();
    /** Per pipe (pipe:[inode]) or socket pair: where its two ends are held. */
    private final Map<String, Held[]> ends = new HashMap<>();
    /** Per shared memory object mapped more than once in the tree: its extent (first and end offset). */
    private final Map<String, long[]> extents = new HashMap<>();
    private final Map<String, Held> memory = new HashMap<>();
    /**
     * Per FIFO (device:inode of the dump): the O_RDWR descriptor its first opener keeps at a temporary
     * number until that vessel's descriptors are placed, after every vessel has opened its own.
     */
    private final Map<String, Held> fifos = new HashMap<>();

    SharedObjects(List<ImageHead> heads) {
        Map<String, Integer> mappings = new HashMap<>();
        for (ImageHead h : heads) {
            for (MemoryArea a : h.areas()) {
                String key = key(a);
                if (key == null) {
                    continue;
                }
                mappings.merge(key, 1, Integer::sum);
                long[] e = extents.computeIfAbsent(key, k -> new long[] {Long.MAX_VALUE, 0});
                e[0] = Math.min(e[0], a.offset());
                e[1] = Math.max(e[1], a.offset() + a.length());
            }
        }
        mappings.forEach((key, count) -> {
            if (count < 2) {
                extents.remove(key); // mapped once: plain shared anonymous memory does
            }
        });
    }

    /** The shared memory object an area maps, when another area of the tree maps it too; else null. */
    String sharedMemory(MemoryArea a) {
        String key = key(a);
        return key != null && extents.containsKey(key) ? key : null;
    }

    private static String key(MemoryArea a) {
        if (a.kind() != MemoryArea.Kind.SHARED_ANONYMOUS || a.file().ino() == 0) {
            return null;
        }
        return "shmem:" + a.file().dev() + ":" + a.file().ino();
    }

    /** {first offset, end offset} of the object's part the tree maps. */
    long[] extent(String key) {
        return extents.get(key);
    }

    Held memory(String key) {
        return memory.get(key);
    }

    void putMemory(String key, Held held) {
        memory.put(key, held);
    }

    Held descriptor(int pid, int fd) {
        return descriptors.get(((long) pid << 32) | (fd & 0xffffffffL));
    }

    void putDescriptor(int pid, int fd, Held held) {
        descriptors.put(((long) pid << 32) | (fd & 0xffffffffL), held);
    }

    Held fifo(String key) {
        return fifos.get(key);
    }

    void putFifo(String key, Held held) {
        fifos.put(key, held);
    }

    Held[] ends(String key) {
        return ends.get(key);
    }

    void putEnds(String key, Held first, Held second) {
        ends.put(key, new Held[] {first, second});
    }
}
