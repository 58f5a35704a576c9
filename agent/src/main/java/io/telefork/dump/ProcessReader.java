package io.telefork.dump;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.image.FdEntry;
import io.telefork.image.FileId;
import io.telefork.image.MemoryArea;
import io.telefork.proc.FileIds;
import io.telefork.proc.ProcFs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Turns what /proc shows of a stopped process into image records: its memory areas and descriptors. */
final class ProcessReader {
    private static final String DELETED = " (deleted)";
    private static final int O_CLOEXEC = 02000000;

    private final ProcFs proc;
    private final int pid;

    ProcessReader(ProcFs proc, int pid) {
        this.proc = proc;
        this.pid = pid;
    }

    /** Areas with nothing resident or swapped (smaps Rss + Swap = 0), whose pagemap need not be read. */
    private final java.util.Set<Long> empty = new java.util.HashSet<>();

    List<MemoryArea> areas() throws IOException, EngineException {
        List<MemoryArea> out = new ArrayList<>();
        for (ProcFs.Mapping m : proc.mappings(pid)) {
            out.add(area(m));
            if (m.residentKb() == 0) {
                empty.add(m.start());
            }
        }
        return out;
    }

    boolean empty(MemoryArea a) {
        return empty.contains(a.start());
    }

    private MemoryArea area(ProcFs.Mapping m) throws IOException, EngineException {
        String name = m.path();
        MemoryArea.Kind kind;
        FileId file = FileIds.NONE;
        switch (name) {
            case "[vdso]" -> kind = MemoryArea.Kind.VDSO;
            case "[vvar]", "[vvar_vclock]" -> kind = MemoryArea.Kind.VVAR;
            case "[vsyscall]" -> kind = MemoryArea.Kind.VSYSCALL;
            case "[heap]" -> kind = MemoryArea.Kind.HEAP;
            case "[stack]" -> kind = MemoryArea.Kind.STACK;
            default -> {
                if (name.isEmpty() || name.startsWith("[anon:")) {
                    kind = m.shared() ? MemoryArea.Kind.SHARED_ANONYMOUS : MemoryArea.Kind.ANONYMOUS;
                } else if (m.shared() && name.equals("/dev/zero" + DELETED)) {
                    kind = MemoryArea.Kind.SHARED_ANONYMOUS;
                } else if (name.startsWith("[")) {
                    throw new EngineException(Reason.UNSUPPORTED, String.format(
                            "memory area %x-%x %s is of a kind not supported yet", m.start(), m.end(), name));
                } else if (name.endsWith(DELETED) || name.startsWith("/memfd:") || name.startsWith("/SYSV")) {
                    throw new EngineException(Reason.UNSUPPORTED, String.format(
                            "memory area %x-%x maps %s, a deleted or in-memory file; not supported yet",
                            m.start(), m.end(), name));
                } else {
                    kind = m.shared() ? MemoryArea.Kind.FILE_SHARED : MemoryArea.Kind.FILE_PRIVATE;
                    // map_files names the mapped inode itself, even inside another mount namespace.
                    file = FileIds.stat(proc.dir(pid).resolve("map_files")
                            .resolve(Long.toHexString(m.start()) + "-" + Long.toHexString(m.end())));
                }
            }
        }
        return new MemoryArea(m.start(), m.end(), m.prot(), m.shared(), kind, m.offset(), name, file, m.vmFlags());
    }

    List<FdEntry> fds() throws IOException, EngineException {
        List<FdEntry> out = new ArrayList<>();
        for (int fd : proc.fds(pid)) {
            String target = proc.readLink(pid, "fd/" + fd);
            Map<String, String> info = proc.fdinfo(pid, fd);
            int flags = Integer.parseInt(info.getOrDefault("flags", "0"), 8);
            long pos = Long.parseLong(info.getOrDefault("pos", "0"));
            boolean cloexec = (flags & O_CLOEXEC) != 0;
            flags &= ~O_CLOEXEC;
            boolean stdio = fd <= 2;
            if (target.startsWith("pipe:") || target.startsWith("socket:")) {
                if (!stdio) {
                    throw unsupported(fd, target);
                }
                out.add(new FdEntry(fd, FdEntry.Kind.INHERITED, target, flags, cloexec, 0, FileIds.NONE));
                continue;
            }
            if (!target.startsWith("/") || target.endsWith(DELETED)) {
                throw unsupported(fd, target);
            }
            Path link = proc.dir(pid).resolve("fd").resolve(Integer.toString(fd));
            FileId id = FileIds.stat(link);
            int type = id.mode() & FileId.S_IFMT;
            if (type == FileId.S_IFREG) {
                out.add(new FdEntry(fd, FdEntry.Kind.FILE, target, flags, cloexec, pos, id));
            } else if (type == FileId.S_IFDIR) {
                out.add(new FdEntry(fd, FdEntry.Kind.DIRECTORY, target, flags, cloexec, pos, id));
            } else if (type == FileId.S_IFCHR) {
                boolean terminal = target.startsWith("/dev/pts/") || target.startsWith("/dev/tty")
                        || target.startsWith("/dev/console");
                FdEntry.Kind kind = terminal && stdio ? FdEntry.Kind.INHERITED : FdEntry.Kind.CHAR_DEVICE;
                out.add(new FdEntry(fd, kind, target, flags, cloexec, pos, id));
            } else if (stdio) {
                out.add(new FdEntry(fd, FdEntry.Kind.INHERITED, target, flags, cloexec, 0, id));
            } else {
                throw unsupported(fd, target);
            }
        }
        return out;
    }

    private EngineException unsupported(int fd, String target) {
        return new EngineException(Reason.UNSUPPORTED, "process " + pid + " has fd " + fd + " open on " + target
                + ", a kind of file not supported yet (only regular files, directories, character devices "
                + "and pipes, sockets or terminals on fds 0-2)");
    }
}
