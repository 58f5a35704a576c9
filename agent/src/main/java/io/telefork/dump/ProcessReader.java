package io.telefork.dump;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.image.FdEntry;
import io.telefork.image.FileId;
import io.telefork.image.MemoryArea;
import io.telefork.image.TcpConnection;
import io.telefork.proc.FileIds;
import io.telefork.proc.ProcFs;
import io.telefork.sys.ConnectionLock;
import io.telefork.sys.Kernel;
import io.telefork.sys.Remote;
import io.telefork.sys.Sockets;
import io.telefork.sys.SysException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Turns what /proc shows of a stopped process into image records: its memory areas and descriptors. */
final class ProcessReader {
    private static final int O_CLOEXEC = 02000000;
    private static final int O_ACCMODE = 3;
    private static final int O_WRONLY = 1;
    private static final int O_RDONLY = 0;
    private static final int O_NONBLOCK = 04000;

    private final ProcFs proc;
    private final int pid;
    private final TreeFiles tree;
    private final FrozenConnections connections;
    private final Ghosts ghosts;

    ProcessReader(ProcFs proc, int pid, TreeFiles tree, FrozenConnections connections, Ghosts ghosts) {
        this.proc = proc;
        this.pid = pid;
        this.tree = tree;
        this.connections = connections;
        this.ghosts = ghosts;
    }

    /** Areas with nothing resident or swapped (smaps Rss + Swap = 0), whose pagemap need not be read. */
    private final java.util.Set<Long> empty = new java.util.HashSet<>();

    /** The areas' VmFlags are those read before the freeze (see {@link #areas(Before)}). */
    private boolean flagsFromBefore;

    /**
     * What a dump that leaves the process running reads of its first process just before the freeze, so
     * as not to read it while the process stands still: its smaps (VmFlags; smaps walks every page table,
     * ~60 ms for 2 GiB of 4 KiB pages), the areas made of them (each mapped file's identity: a stat per
     * mapping) and a {@code syscall} instruction in its vDSO. All of it holds only if /proc/PID/maps shows
     * the same layout in the freeze (see {@link #areas(Before)}).
     *
     * @param areas  null if a mapping is of a deleted file, whose content must be read in the freeze
     * @param gadget address of a syscall instruction in the vDSO, 0 if none was found
     */
    record Before(List<ProcFs.Mapping> smaps, List<MemoryArea> areas, long gadget) {
    }

    /** Reads {@link Before} of process {@code pid}; null if it cannot (the freeze then reads it all). */
    static Before before(ProcFs proc, int pid) {
        try {
            List<ProcFs.Mapping> smaps = proc.mappings(pid);
            ProcessReader reader = new ProcessReader(proc, pid, null, null, null);
            List<MemoryArea> areas = new ArrayList<>();
            long gadget = 0;
            for (ProcFs.Mapping m : smaps) {
                if (Ghosts.isGhost(m.path())) {
                    areas = null;
                    break;
                }
                MemoryArea a = reader.area(m);
                areas.add(a);
                if (a.kind() == MemoryArea.Kind.VDSO) {
                    gadget = Remote.findGadget(pid, a.start(), a.end());
                }
            }
            return new Before(smaps, areas, gadget);
        } catch (IOException | EngineException | SysException e) {
            return null;
        }
    }

    /**
     * The process's memory areas. With {@code before} (read just before the freeze, null for none): if
     * /proc/PID/maps shows the same layout now, the areas read then are used, with their VmFlags; no area
     * is then taken as empty, as one may have been written since. A mapped file's identity is then the
     * one of a few milliseconds before the freeze: a file changed in between makes a restore refuse it as
     * changed, never restore wrong content. The flags that matter for a copy-on-write twin (dontfork,
     * wipeonfork) must be checked against the twin: {@link #flagsFromBefore()}.
     */
    List<MemoryArea> areas(Before before) throws IOException, EngineException {
        flagsFromBefore = before != null && sameLayout(proc.maps(pid), before.smaps());
        if (flagsFromBefore && before.areas() != null) {
            return before.areas();
        }
        List<MemoryArea> out = new ArrayList<>();
        for (ProcFs.Mapping m : flagsFromBefore ? before.smaps() : proc.mappings(pid)) {
            out.add(area(m));
            if (!flagsFromBefore && m.residentKb() == 0) {
                empty.add(m.start());
            }
        }
        return out;
    }

    boolean flagsFromBefore() {
        return flagsFromBefore;
    }

    private static boolean sameLayout(List<ProcFs.Mapping> now, List<ProcFs.Mapping> before) {
        if (now.size() != before.size()) {
            return false;
        }
        for (int i = 0; i < now.size(); i++) {
            ProcFs.Mapping a = now.get(i);
            ProcFs.Mapping b = before.get(i);
            if (a.start() != b.start() || a.end() != b.end() || !a.perms().equals(b.perms()) || a.offset() != b.offset()
                    || a.devMajor() != b.devMajor() || a.devMinor() != b.devMinor() || a.inode() != b.inode()
                    || !a.path().equals(b.path())) {
                return false;
            }
        }
        return true;
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
                if (m.shared() && (name.isEmpty() || name.startsWith("[anon:") || name.equals("/dev/zero" + Ghosts.DELETED))) {
                    kind = MemoryArea.Kind.SHARED_ANONYMOUS;
                    // The shmem object's inode: processes of a tree that map the same one share it again.
                    file = new FileId(((long) m.devMajor() << 20) | m.devMinor(), m.inode(), 0, 0, 0);
                } else if (name.isEmpty() || name.startsWith("[anon:")) {
                    kind = MemoryArea.Kind.ANONYMOUS;
                } else if (name.startsWith("[")) {
                    throw new EngineException(Reason.UNSUPPORTED, String.format(
                            "memory area %x-%x %s is of a kind not supported yet", m.start(), m.end(), name));
                } else if (name.startsWith("/SYSV")) {
                    throw new EngineException(Reason.UNSUPPORTED, String.format(
                            "memory area %x-%x maps %s, a SysV shared memory segment; not supported yet",
                            m.start(), m.end(), name));
                } else if (Ghosts.isGhost(name)) {
                    Path link = mapFile(m);
                    if (!FileIds.stat(link).isRegular()) {
                        throw new EngineException(Reason.UNSUPPORTED, String.format(
                                "memory area %x-%x maps %s, a deleted file that is not a regular file; not supported",
                                m.start(), m.end(), name));
                    }
                    kind = m.shared() ? MemoryArea.Kind.GHOST_SHARED : MemoryArea.Kind.GHOST_PRIVATE;
                    file = ghosts.add(link, name, String.format("memory area %x-%x mapping", m.start(), m.end()));
                } else {
                    kind = m.shared() ? MemoryArea.Kind.FILE_SHARED : MemoryArea.Kind.FILE_PRIVATE;
                    // map_files names the mapped inode itself, even inside another mount namespace.
                    file = FileIds.stat(mapFile(m));
                }
            }
        }
        return new MemoryArea(m.start(), m.end(), m.prot(), m.shared(), kind, m.offset(), name, file, m.vmFlags());
    }

    private Path mapFile(ProcFs.Mapping m) {
        return proc.dir(pid).resolve("map_files").resolve(Long.toHexString(m.start()) + "-" + Long.toHexString(m.end()));
    }

    /** Descriptor targets and fdinfo, read by {@link #readDescriptors()}. */
    private final Map<Integer, String> links = new java.util.TreeMap<>();
    private final Map<Integer, Map<String, String>> infos = new HashMap<>();

    /**
     * Step one of reading descriptors: what each one is, made known to the tree (which pipe ends and
     * sockets lie inside it) before any process's descriptors are turned into entries.
     */
    void readDescriptors() throws IOException, EngineException {
        for (int fd : proc.fds(pid)) {
            links.put(fd, proc.readLink(pid, "fd/" + fd));
            infos.put(fd, proc.fdinfo(pid, fd));
        }
        tree.add(links, infos);
        if (connections.enabled()) {
            connections.lockAll(pid, establishedTcp(links));
        }
    }

    /** Step two: the entries, once every process of the tree has read its descriptors. */
    List<FdEntry> fds() throws IOException, EngineException {
        Map<String, TreeFiles.PipeEnds> pipes = tree.pipes();
        List<FdEntry> out = new ArrayList<>();
        for (Map.Entry<Integer, String> l : links.entrySet()) {
            int fd = l.getKey();
            String target = l.getValue();
            Map<String, String> info = infos.get(fd);
            int flags = Integer.parseInt(info.getOrDefault("flags", "0"), 8);
            long pos = Long.parseLong(info.getOrDefault("pos", "0"));
            boolean cloexec = (flags & O_CLOEXEC) != 0;
            flags &= ~O_CLOEXEC;
            boolean stdio = fd <= 2;
            if (target.startsWith("pipe:") && pipes.get(target).inside()) {
                out.add(pipeEnd(fd, target, flags, cloexec, pipes.get(target)));
                continue;
            }
            if (target.startsWith("socket:") && !stdio) {
                out.add(socket(fd, target, flags, cloexec));
                continue;
            }
            if (target.startsWith("pipe:") || target.startsWith("socket:")) {
                if (!stdio) {
                    throw unsupported(fd, target);
                }
                out.add(new FdEntry(fd, FdEntry.Kind.INHERITED, target, flags, cloexec, 0, FileIds.NONE));
                continue;
            }
            if (target.startsWith("anon_inode:")) {
                out.add(anon(fd, target, flags, cloexec, info));
                continue;
            }
            if (!target.startsWith("/")) {
                throw unsupported(fd, target);
            }
            Path link = proc.dir(pid).resolve("fd").resolve(Integer.toString(fd));
            FileId id = FileIds.stat(link);
            if (Ghosts.isGhost(target)) {
                if (!id.isRegular()) {
                    throw unsupported(fd, target);
                }
                out.add(new FdEntry(fd, FdEntry.Kind.GHOST, target, flags, cloexec, pos, ghosts.add(link, target,
                        "fd " + fd + " open on")));
                continue;
            }
            int type = id.mode() & FileId.S_IFMT;
            if (type == FileId.S_IFREG) {
                out.add(new FdEntry(fd, FdEntry.Kind.FILE, target, flags, cloexec, pos, id));
            } else if (type == FileId.S_IFIFO && !stdio) {
                // On 0-2 a FIFO stays the restorer's, as an anonymous pipe there does.
                out.add(fifo(fd, target, flags, cloexec, link, id));
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
        return withSharing(out);
    }

    /** Marks descriptors that share an open file description with a lower one (dup, inherited across fork). */
    private List<FdEntry> withSharing(List<FdEntry> fds) {
        List<FdEntry> out = new ArrayList<>(fds.size());
        for (FdEntry f : fds) {
            FdEntry marked = f;
            if (f.kind() != FdEntry.Kind.INHERITED) {
                for (FdEntry earlier : out) {
                    if (earlier.sameAs() < 0 && earlier.kind() == f.kind() && earlier.path().equals(f.path())
                            && Kernel.sameFile(pid, earlier.fd(), f.fd())) {
                        marked = f.sharing(earlier.fd());
                        break;
                    }
                }
            }
            out.add(marked);
        }
        return out;
    }

    private FdEntry pipeEnd(int fd, String target, int flags, boolean cloexec, TreeFiles.PipeEnds ends)
            throws EngineException {
        boolean writeEnd = (flags & O_ACCMODE) == O_WRONLY;
        try {
            int mine = Kernel.stealFd(pid, fd);
            try {
                long size = Kernel.pipeSize(mine);
                byte[] content = new byte[0];
                if (!writeEnd && !ends.contentTaken) {
                    content = Kernel.peekPipe(mine);
                    ends.contentTaken = true;
                }
                return new FdEntry(fd, FdEntry.Kind.PIPE, target, flags, cloexec, 0, FileIds.NONE,
                        new long[] {size, writeEnd ? 1 : 0}, content);
            } finally {
                Kernel.close(mine);
            }
        } catch (SysException e) {
            throw new EngineException(Reason.SYSTEM, "cannot read pipe " + target + " of process " + pid + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * A named pipe: its size, and its buffered bytes once per FIFO in the tree. A descriptor that cannot
     * be read (write-only) is peeked through a fresh non-blocking read-only open of the same FIFO, which
     * neither blocks nor takes anything out of it.
     */
    private FdEntry fifo(int fd, String target, int flags, boolean cloexec, Path link, FileId id)
            throws EngineException {
        boolean takeContent = tree.takeFifo(id.dev(), id.ino());
        try {
            boolean readable = (flags & O_ACCMODE) != O_WRONLY;
            int mine = readable || !takeContent ? Kernel.stealFd(pid, fd)
                    : Kernel.open(link.toString(), O_RDONLY | O_NONBLOCK);
            try {
                long size = Kernel.pipeSize(mine);
                byte[] content = takeContent ? Kernel.peekPipe(mine) : new byte[0];
                return new FdEntry(fd, FdEntry.Kind.FIFO, target, flags, cloexec, 0, id, new long[] {size}, content);
            } finally {
                Kernel.close(mine);
            }
        } catch (SysException e) {
            throw new EngineException(Reason.SYSTEM, "cannot read FIFO " + target + " (fd " + fd + ") of process "
                    + pid + ": " + e.getMessage(), e);
        }
    }

    private FdEntry anon(int fd, String target, int flags, boolean cloexec, Map<String, String> info)
            throws IOException, EngineException {
        if (target.equals("anon_inode:inotify")) {
            return new InotifyWatches(proc, pid).read(fd, target, flags, cloexec);
        }
        long[] params;
        FdEntry.Kind kind;
        switch (target) {
            case "anon_inode:[eventfd]" -> {
                kind = FdEntry.Kind.EVENTFD;
                params = new long[] {Long.parseUnsignedLong(info.get("eventfd-count").trim(), 16),
                    Long.parseLong(info.getOrDefault("eventfd-semaphore", "0").trim())};
            }
            case "anon_inode:[timerfd]" -> {
                kind = FdEntry.Kind.TIMERFD;
                long[] value = pair(info.get("it_value"));
                long[] interval = pair(info.get("it_interval"));
                params = new long[] {Long.parseLong(info.get("clockid").trim()), Long.parseLong(info.get("ticks").trim()),
                    Long.parseLong(info.get("settime flags").trim(), 8), value[0], value[1], interval[0], interval[1]};
            }
            case "anon_inode:[signalfd]" -> {
                kind = FdEntry.Kind.SIGNALFD;
                params = new long[] {Long.parseUnsignedLong(info.get("sigmask").trim(), 16)};
            }
            case "anon_inode:[eventpoll]" -> {
                kind = FdEntry.Kind.EPOLL;
                params = epollTargets(fd);
            }
            default -> throw unsupported(fd, target);
        }
        return new FdEntry(fd, kind, target, flags, cloexec, 0, FileIds.NONE, params, new byte[0]);
    }

    private static final int SOL_SOCKET = 1;
    private static final int AF_UNIX = 1;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_DGRAM = 2;

    /** A TCP, UDP or unix socket, read through a copy of it (pidfd_getfd) with getsockopt and getsockname. */
    private FdEntry socket(int fd, String target, int flags, boolean cloexec) throws EngineException {
        int mine;
        try {
            mine = Kernel.stealFd(pid, fd);
        } catch (SysException e) {
            throw new EngineException(Reason.SYSTEM, "cannot read socket fd " + fd + " of " + pid + ": "
                    + e.getMessage(), e);
        }
        boolean handedOver = false;
        try {
            int family = Kernel.sockopt(mine, SOL_SOCKET, 39);
            int type = Kernel.sockopt(mine, SOL_SOCKET, 3);
            if (family == AF_UNIX) {
                FdEntry pair = unixPair(fd, target, flags, cloexec, mine, type);
                return pair != null ? pair : unixSocket(fd, target, flags, cloexec, mine, type);
            }
            if ((family != AF_INET && family != AF_INET6) || (type != SOCK_STREAM && type != SOCK_DGRAM)) {
                throw unsupportedSocket(fd, target, (family == AF_INET || family == AF_INET6 ? "an IP" : "a family "
                        + family) + " socket of type " + type);
            }
            long[] params = {family, type, Kernel.sockopt(mine, SOL_SOCKET, 38), Kernel.sockopt(mine, SOL_SOCKET, 30),
                Kernel.sockopt(mine, SOL_SOCKET, 2), Kernel.sockopt(mine, SOL_SOCKET, 15),
                family == AF_INET6 ? Kernel.sockopt(mine, 41, 26) : 0,
                type == SOCK_STREAM ? Kernel.sockopt(mine, 6, 1) : 0, Kernel.sockopt(mine, SOL_SOCKET, 9), 0};
            byte[] local = Kernel.sockaddr(mine, false);
            byte[] peer = Kernel.sockaddr(mine, true);
            params[9] = local.length;
            boolean connectedTcp = type == SOCK_STREAM && params[3] != 1 && peer.length > 0;
            if (connectedTcp && connections.enabled()) {
                TcpConnection c = connections.freeze(pid, fd, mine, java.util.Arrays.copyOf(params, 9), local, peer);
                if (c != null) {
                    handedOver = true;
                    return new FdEntry(fd, FdEntry.Kind.TCP_ESTABLISHED, target, flags, cloexec, 0, FileIds.NONE,
                            c.params(), c.data());
                }
            }
            byte[] data = new byte[local.length + peer.length];
            System.arraycopy(local, 0, data, 0, local.length);
            System.arraycopy(peer, 0, data, local.length, peer.length);
            FdEntry.Kind kind = connectedTcp ? FdEntry.Kind.SOCKET_CLOSED : FdEntry.Kind.SOCKET;
            return new FdEntry(fd, kind, target, flags, cloexec, 0, FileIds.NONE, params, data);
        } finally {
            if (!handedOver) {
                Kernel.close(mine);
            }
        }
    }

    /** The established TCP connections among the descriptors above 2 (0-2 are the restorer's at restore). */
    private List<ConnectionLock.Connection> establishedTcp(Map<Integer, String> links) throws EngineException {
        List<ConnectionLock.Connection> out = new ArrayList<>();
        for (Map.Entry<Integer, String> l : links.entrySet()) {
            if (l.getKey() <= 2 || !l.getValue().startsWith("socket:")) {
                continue;
            }
            int mine;
            try {
                mine = Kernel.stealFd(pid, l.getKey());
            } catch (SysException e) {
                throw new EngineException(Reason.SYSTEM, "cannot read socket fd " + l.getKey() + " of " + pid + ": "
                        + e.getMessage(), e);
            }
            try {
                int family = Kernel.sockopt(mine, SOL_SOCKET, 39);
                if ((family == AF_INET || family == AF_INET6) && Kernel.sockopt(mine, SOL_SOCKET, 3) == SOCK_STREAM
                        && (Sockets.get(mine, Sockets.SOL_TCP, Sockets.TCP_INFO, 1, "TCP_INFO")[0] & 0xff) == 1) {
                    out.add(new ConnectionLock.Connection(Kernel.sockaddr(mine, false), Kernel.sockaddr(mine, true)));
                }
            } catch (SysException e) {
                // not a TCP socket after all: nothing to lock
            } finally {
                Kernel.close(mine);
            }
        }
        return out;
    }

    private static final int SOCK_SEQPACKET = 5;
    /** A unix sockaddr with nothing after sun_family: an unnamed socket. */
    private static final int UNNAMED = 2;

    /**
     * A unix socket that is not one end of a stream pair inside the process: bound to a name (listening
     * or not), unnamed and unconnected, a datagram socket connected to a named peer, or a stream socket
     * connected to a process outside (restored closed: the peer cannot follow).
     */
    private FdEntry unixSocket(int fd, String target, int flags, boolean cloexec, int mine, int type)
            throws EngineException {
        if (type != SOCK_STREAM && type != SOCK_SEQPACKET && type != SOCK_DGRAM) {
            throw unsupportedSocket(fd, target, "a unix socket of type " + type);
        }
        long ino = Long.parseLong(target.substring(target.indexOf('[') + 1, target.indexOf(']')));
        long peerIno;
        try {
            peerIno = Kernel.unixPeer(ino);
        } catch (SysException e) {
            throw new EngineException(Reason.SYSTEM, "cannot read unix socket fd " + fd + " of " + pid + ": "
                    + e.getMessage(), e);
        }
        boolean listening = Kernel.sockopt(mine, SOL_SOCKET, 30) == 1;
        byte[] local = Kernel.sockaddr(mine, false);
        byte[] peer = Kernel.sockaddr(mine, true);
        if (peerIno >= 0 && tree.socketInodes().contains(peerIno)) {
            throw unsupportedSocket(fd, target, "a unix socket of type " + type + " whose peer is in the process tree "
                    + "too (only stream socket pairs are rebuilt)");
        }
        if (peerIno >= 0 && type != SOCK_DGRAM) {
            // Connected to another process, or to one that is gone: all the copy can give is end of file.
            return new FdEntry(fd, FdEntry.Kind.SOCKET_CLOSED, target, flags, cloexec, 0, FileIds.NONE);
        }
        if (peerIno >= 0 && peer.length <= UNNAMED) {
            throw unsupportedSocket(fd, target, "a unix datagram socket connected to an unnamed socket of another "
                    + "process");
        }
        if (peerIno < 0) {
            peer = new byte[0];
        }
        byte[] data = new byte[local.length + peer.length];
        System.arraycopy(local, 0, data, 0, local.length);
        System.arraycopy(peer, 0, data, local.length, peer.length);
        return new FdEntry(fd, FdEntry.Kind.UNIX_SOCKET, target, flags, cloexec, 0, FileIds.NONE,
                new long[] {type, listening ? 1 : 0, local.length}, data);
    }

    private EngineException unsupportedSocket(int fd, String target, String what) {
        return new EngineException(Reason.UNSUPPORTED, "process " + pid + " has fd " + fd + " open on " + target
                + ", " + what + "; only TCP, UDP and unix sockets are supported yet");
    }

    /** The end of a stream socket pair whose other end this process holds too, or null. */
    private FdEntry unixPair(int fd, String target, int flags, boolean cloexec, int mine, int type)
            throws EngineException {
        if (type != SOCK_STREAM) {
            return null;
        }
        try {
            long ino = Long.parseLong(target.substring(target.indexOf('[') + 1, target.indexOf(']')));
            long peer = Kernel.unixPeer(ino);
            if (peer == 0) {
                // Connected, but its peer is gone: all it can do is read end of file. So does its restored self.
                return new FdEntry(fd, FdEntry.Kind.SOCKET_CLOSED, target, flags, cloexec, 0, FileIds.NONE);
            }
            if (peer < 0 || !tree.socketInodes().contains(peer)) {
                return null;
            }
            byte[] queued = Kernel.peekSocket(mine, Math.max(Kernel.sockopt(mine, SOL_SOCKET, 8), 65536) * 2);
            return new FdEntry(fd, FdEntry.Kind.UNIX_PAIR, target, flags, cloexec, 0, FileIds.NONE,
                    new long[] {type, ino, peer}, queued);
        } catch (SysException | RuntimeException e) {
            return null;
        }
    }

    /** "(12, 345)" -> {12, 345} */
    private static long[] pair(String s) {
        String[] f = s.trim().replace("(", "").replace(")", "").split(",");
        return new long[] {Long.parseLong(f[0].trim()), Long.parseLong(f[1].trim())};
    }

    /** The "tfd: N events: X data: Y ..." lines of an epoll's fdinfo. */
    private long[] epollTargets(int fd) throws IOException {
        List<Long> out = new ArrayList<>();
        for (String line : java.nio.file.Files.readAllLines(proc.dir(pid).resolve("fdinfo").resolve(Integer.toString(fd)))) {
            if (!line.startsWith("tfd:")) {
                continue;
            }
            String[] f = line.trim().split("\\s+");
            out.add(Long.parseLong(f[1]));
            out.add(Long.parseUnsignedLong(f[3], 16));
            out.add(Long.parseUnsignedLong(f[5], 16));
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    private EngineException unsupported(int fd, String target) {
        return new EngineException(Reason.UNSUPPORTED, "process " + pid + " has fd " + fd + " open on " + target
                + ", a kind of file not supported yet (supported: regular files, directories, character devices, "
                + "FIFOs, deleted regular files and memfds, pipes with both ends in the process tree, eventfd, timerfd, "
                + "signalfd, epoll, inotify, TCP, UDP and unix sockets, and pipes, sockets or terminals on fds 0-2)");
    }
}
