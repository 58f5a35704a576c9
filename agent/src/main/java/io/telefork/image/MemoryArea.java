package io.telefork.image;

import java.util.ArrayList;
import java.util.List;

/**
 * One virtual memory area, as /proc/PID/maps and smaps showed it.
 *
 * @param start   first address
 * @param end     address past the last byte
 * @param prot    PROT_READ (1) | PROT_WRITE (2) | PROT_EXEC (4)
 * @param shared  MAP_SHARED
 * @param kind    what backs it
 * @param offset  file offset of start, for file mappings
 * @param name    the path or pseudo-name ([heap], [stack], [vdso]...), empty for plain anonymous memory
 * @param file    the mapped file's identity, for file mappings
 * @param vmFlags the smaps VmFlags (e.g. "rd wr mr mw me gd ac"), which tell growsdown, dontfork...
 */
public record MemoryArea(long start, long end, int prot, boolean shared, Kind kind, long offset, String name,
                         FileId file, String vmFlags) {

    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int PROT_EXEC = 4;

    /** What backs an area and so how it is dumped and recreated. */
    public enum Kind {
        /** Private anonymous memory: populated pages stored. */
        ANONYMOUS,
        /** The brk heap: anonymous, and brk is set to its end. */
        HEAP,
        /** The main stack: anonymous, grows down. */
        STACK,
        /** MAP_SHARED anonymous memory (shmem): populated pages stored. */
        SHARED_ANONYMOUS,
        /** MAP_PRIVATE of a file: mapped again from the file; pages that differ from it stored. */
        FILE_PRIVATE,
        /** MAP_SHARED of a file: mapped again from the file, which holds the content. */
        FILE_SHARED,
        /** The kernel's vDSO: not stored; the vessel's own is moved here. */
        VDSO,
        /** [vvar] or [vvar_vclock]: not stored, moved together with the vDSO. */
        VVAR,
        /** [vsyscall]: fixed by the kernel, nothing to do. */
        VSYSCALL,
        /**
         * MAP_PRIVATE of a deleted file or memfd (version 2): mapped from its re-created {@link GhostFile}
         * (same device and inode); pages that differ from it stored, as for FILE_PRIVATE.
         */
        GHOST_PRIVATE,
        /** MAP_SHARED of a deleted file or memfd (version 2): the re-created {@link GhostFile} holds the content. */
        GHOST_SHARED
    }

    public long length() {
        return end - start;
    }

    public boolean contains(long addr) {
        return addr >= start && addr < end;
    }

    /**
     * Whether a lazy restore fills this area only after the process runs (through a userfaultfd): private
     * anonymous memory. The brk heap is not (registered, it would no longer merge with its growth), nor
     * shared memory (a fork shares it), nor the stack.
     */
    public boolean filledLazily() {
        return kind == Kind.ANONYMOUS && !shared;
    }

    public boolean hasVmFlag(String flag) {
        for (String f : vmFlags.split(" ")) {
            if (f.equals(flag)) {
                return true;
            }
        }
        return false;
    }

    /** rwxp / rw-s as in /proc/PID/maps. */
    public String protString() {
        return ((prot & PROT_READ) != 0 ? "r" : "-") + ((prot & PROT_WRITE) != 0 ? "w" : "-")
                + ((prot & PROT_EXEC) != 0 ? "x" : "-") + (shared ? "s" : "p");
    }

    public static byte[] encodeAll(List<MemoryArea> areas) {
        Encoder e = new Encoder().i32(areas.size());
        for (MemoryArea a : areas) {
            e.i64(a.start).i64(a.end).i32(a.prot).bool(a.shared).u8(a.kind.ordinal()).i64(a.offset).string(a.name);
            a.file.encode(e);
            e.string(a.vmFlags);
        }
        return e.toByteArray();
    }

    public static List<MemoryArea> decodeAll(byte[] payload) throws ImageFormatException {
        Decoder d = new Decoder(payload);
        int n = d.count(8);
        List<MemoryArea> areas = new ArrayList<>(n);
        long previousEnd = 0;
        for (int i = 0; i < n; i++) {
            long start = d.i64();
            long end = d.i64();
            int prot = d.i32();
            boolean shared = d.bool();
            int kind = d.u8();
            if (kind >= Kind.values().length) {
                throw new ImageFormatException("unknown memory area kind " + kind);
            }
            MemoryArea a = new MemoryArea(start, end, prot, shared, Kind.values()[kind], d.i64(), d.string(),
                    FileId.decode(d), d.string());
            if (Long.compareUnsigned(start, end) >= 0 || Long.compareUnsigned(start, previousEnd) < 0
                    || (start | end) % Format.PAGE_SIZE != 0) {
                throw new ImageFormatException(String.format("memory area %x-%x is malformed or out of order", start, end));
            }
            previousEnd = end;
            areas.add(a);
        }
        d.expectEnd();
        return areas;
    }
}
