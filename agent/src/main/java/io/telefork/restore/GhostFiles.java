package io.telefork.restore;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.image.FdEntry;
import io.telefork.image.FileId;
import io.telefork.image.GhostFile;
import io.telefork.image.ImageReader;
import io.telefork.image.MemoryArea;
import io.telefork.image.RecordType;
import io.telefork.proc.ProcFs;
import io.telefork.sys.Remote;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Re-creates inside the vessel the image's files that had no name: a deleted file as an unnamed file in
 * the directory it was deleted from (O_TMPFILE, or a temporary name unlinked at once where the filesystem
 * has no O_TMPFILE), a memfd with memfd_create and its name. Each is sized, filled with the saved content,
 * given its owner, mode and seals, and held at a temporary descriptor of the vessel from which its
 * mappings are made and its descriptors reopened. Nothing on disk is compared: the content is the one
 * saved at the dump, whatever happened to the directory since.
 */
final class GhostFiles {
    /** Moves a descriptor the vessel just got to a temporary number (closed with the others at the end). */
    interface Adopter {
        int adopt(long fd) throws SysException;
    }

    private static final int SYS_FTRUNCATE = 77;
    private static final int SYS_FCHMOD = 91;
    private static final int SYS_FCHOWN = 93;
    private static final int SYS_UNLINKAT = 263;
    private static final int SYS_MEMFD_CREATE = 319;
    private static final int AT_FDCWD = -100;
    private static final int O_DIRECTORY = 0200000;
    private static final int O_TMPFILE = 020000000 | O_DIRECTORY;
    private static final int MFD_CLOEXEC = 1;
    private static final int MFD_ALLOW_SEALING = 2;
    private static final int F_ADD_SEALS = 1033;
    private static final int F_SEAL_SEAL = 1;
    private static final int EISDIR = 21;
    private static final int EINVAL = 22;
    private static final int EOPNOTSUPP = 95;
    private static final int EPERM = 1;
    private static final String MEMFD = "/memfd:";

    private final Remote remote;
    private final int vessel;
    private final ProcFs proc;
    private final long scratch;
    private final Adopter adopter;
    private final List<GhostFile> ghosts;
    /**
     * Per ghost, in image order: its descriptor in the vessel, read-write while it is filled, then
     * read-only: a file open for writing cannot become the process's executable (PR_SET_MM_MAP's exe_fd
     * gets EACCES), and private mappings need no more.
     */
    private final int[] fds;
    /** Per ghost index, a read-write descriptor, opened only for shared mappings that may be written. */
    private final Map<Integer, Integer> readWrite = new HashMap<>();

    GhostFiles(Remote remote, int vessel, ProcFs proc, long scratch, Adopter adopter, List<GhostFile> ghosts) {
        this.remote = remote;
        this.vessel = vessel;
        this.proc = proc;
        this.scratch = scratch;
        this.adopter = adopter;
        this.ghosts = ghosts;
        this.fds = new int[ghosts.size()];
    }

    /**
     * Creates every file, then writes its content (the GHOST_DATA records read with the process's head),
     * then sets owner, mode and seals: seals last, since a write seal
     * would refuse the content. Also opens now what the mappings of {@code areas} will need: later, while
     * the areas are made, the vessel has no scratch page to pass a path in.
     */
    void create(List<GhostFile.Chunk> data, List<MemoryArea> areas) throws Exception {
        for (int i = 0; i < ghosts.size(); i++) {
            GhostFile g = ghosts.get(i);
            fds[i] = adopter.adopt(g.kind() == GhostFile.Kind.MEMFD ? memfd(g) : unnamedFile(g, i));
            remote.call("ftruncate " + g.path(), SYS_FTRUNCATE, fds[i], g.file().size());
        }
        fill(data);
        for (int i = 0; i < ghosts.size(); i++) {
            GhostFile g = ghosts.get(i);
            long r = remote.raw(SYS_FCHOWN, fds[i], g.uid(), g.gid());
            if (r < 0 && r != -EPERM) { // a vessel without the privilege keeps it as its own
                throw new SysException("fchown of " + g.path(), (int) -r);
            }
            remote.call("fchmod " + g.path(), SYS_FCHMOD, fds[i], g.file().mode() & 07777);
            if (g.kind() == GhostFile.Kind.MEMFD && g.seals() != F_SEAL_SEAL && g.seals() != 0) {
                remote.call("F_ADD_SEALS " + g.path(), Sys.SYS_FCNTL, fds[i], F_ADD_SEALS, g.seals());
            }
            int writable = fds[i];
            fds[i] = reopen(i, Sys.O_RDONLY);
            remote.call("close", Sys.SYS_CLOSE, writable);
        }
        for (MemoryArea a : areas) {
            if (a.kind() == MemoryArea.Kind.GHOST_SHARED && a.hasVmFlag("mw")) {
                int i = require(a.file(), a.name());
                if (!readWrite.containsKey(i)) {
                    readWrite.put(i, reopen(i, Sys.O_RDWR));
                }
            }
        }
    }

    private long memfd(GhostFile g) throws Exception {
        String name = g.path().startsWith(MEMFD) ? g.path().substring(MEMFD.length()) : g.path();
        // Without MFD_ALLOW_SEALING a memfd reports F_SEAL_SEAL alone: so does the copy.
        int flags = MFD_CLOEXEC | (g.seals() == F_SEAL_SEAL ? 0 : MFD_ALLOW_SEALING);
        return remote.call("memfd_create " + name, SYS_MEMFD_CREATE, putString(name), flags);
    }

    private long unnamedFile(GhostFile g, int index) throws Exception {
        int slash = g.path().lastIndexOf('/');
        String dir = slash <= 0 ? "/" : g.path().substring(0, slash);
        long fd = remote.raw(Sys.SYS_OPENAT, AT_FDCWD, putString(dir), O_TMPFILE | Sys.O_RDWR | Sys.O_CLOEXEC, 0600);
        if (fd == -EOPNOTSUPP || fd == -EISDIR || fd == -EINVAL) {
            // No O_TMPFILE on this filesystem: a name nobody uses, gone again before anyone could see it.
            String temp = dir + (dir.endsWith("/") ? "" : "/") + ".telefork-ghost-" + vessel + "-" + index + "-"
                    + Long.toHexString(System.nanoTime());
            long name = putString(temp);
            fd = remote.raw(Sys.SYS_OPENAT, AT_FDCWD, name, Sys.O_CREAT | Sys.O_EXCL | Sys.O_RDWR | Sys.O_CLOEXEC, 0600);
            if (fd >= 0) {
                remote.call("unlink " + temp, SYS_UNLINKAT, AT_FDCWD, name, 0);
            }
        }
        if (fd < 0) {
            throw new EngineException(Reason.FILE_CHANGED, "cannot re-create the deleted file " + g.path() + " in "
                    + dir + ": " + Sys.errno(fd));
        }
        return fd;
    }

    /** Writes the content through /proc/VESSEL/fd/N: from here, at memory speed, not a page per injected call. */
    private void fill(List<GhostFile.Chunk> chunks) throws Exception {
        List<FileChannel> out = new ArrayList<>();
        try {
            for (int fd : fds) {
                out.add(FileChannel.open(proc.dir(vessel).resolve("fd").resolve(Integer.toString(fd)),
                        StandardOpenOption.WRITE));
            }
            for (GhostFile.Chunk c : chunks) {
                ByteBuffer data = ByteBuffer.wrap(c.data());
                FileChannel ch = out.get(c.index());
                while (data.hasRemaining()) {
                    ch.write(data, c.offset() + data.position());
                }
            }
        } finally {
            for (FileChannel ch : out) {
                try {
                    ch.close();
                } catch (IOException e) {
                    // written already; nothing left to lose
                }
            }
        }
    }

    private int indexOf(FileId id) {
        for (int i = 0; i < ghosts.size(); i++) {
            if (ghosts.get(i).is(id)) {
                return i;
            }
        }
        return -1;
    }

    /** Whether the image's file {@code id} (an fd's, an area's, the executable's) is one of these. */
    boolean holds(FileId id) {
        return indexOf(id) >= 0;
    }

    /**
     * The descriptor to map area {@code a} from: a read-write one for a shared mapping that may be made
     * writable (VmFlag mw), else the read-only one (so that a shared mapping of a file open read-only
     * still cannot be made writable).
     */
    int forArea(MemoryArea a) throws EngineException {
        int i = require(a.file(), a.name());
        return a.shared() && a.hasVmFlag("mw") ? readWrite.get(i) : fds[i];
    }

    /** A read-only descriptor of the file, for the process's executable. */
    int forExecutable(FileId id, String name) throws EngineException {
        return fds[require(id, name)];
    }

    /** A new open file description of the re-created file with the descriptor's flags and offset. */
    int open(FdEntry f) throws Exception {
        int i = require(f.file(), f.path());
        int fd = reopen(i, f.flags() & ~(Sys.O_CREAT | Sys.O_EXCL | Sys.O_TRUNC | Sys.O_NOCTTY | O_TMPFILE));
        if (f.position() != 0) {
            remote.call("lseek fd " + f.fd(), Sys.SYS_LSEEK, fd, f.position(), 0);
        }
        return fd;
    }

    /** Opens the file again through the vessel's own /proc/self/fd: the only way to an unnamed file. */
    private int reopen(int i, int flags) throws Exception {
        String path = "/proc/self/fd/" + fds[i];
        long fd = remote.raw(Sys.SYS_OPENAT, AT_FDCWD, putString(path), flags | Sys.O_CLOEXEC, 0);
        if (fd < 0) {
            throw new EngineException(Reason.INCOMPATIBLE, "cannot reopen the re-created " + ghosts.get(i).path()
                    + " through " + path + " in the vessel (is /proc mounted there?): " + Sys.errno(fd));
        }
        return adopter.adopt(fd);
    }

    private int require(FileId id, String name) throws EngineException {
        int i = indexOf(id);
        if (i < 0) {
            throw new EngineException(Reason.BAD_IMAGE, name + " refers to a deleted file or memfd the image does "
                    + "not hold");
        }
        return i;
    }

    private long putString(String s) throws EngineException, SysException {
        return ScratchPage.putString(vessel, scratch, s);
    }
}
