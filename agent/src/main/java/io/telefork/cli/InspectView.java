package io.telefork.cli;

import io.telefork.image.FdEntry;
import io.telefork.image.GhostFile;
import io.telefork.image.ImageFormatException;
import io.telefork.image.SocketAddress;
import io.telefork.image.TcpConnection;
import io.telefork.image.ImageSummary;
import io.telefork.image.MemoryArea;
import io.telefork.image.ProcessInfo;
import io.telefork.image.ProcessTree;
import io.telefork.image.Regs;
import io.telefork.image.SignalState;
import io.telefork.image.ThreadState;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What {@code telefork inspect} shows, as text for people and as a JSON tree for tools. */
final class InspectView {
    private final ImageSummary s;

    InspectView(ImageSummary summary) {
        this.s = summary;
    }

    Map<String, Object> toJson() {
        ProcessInfo p = s.head().process();
        ThreadState t = s.head().thread();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("formatVersion", s.version());
        m.put("verified", s.verified());
        if (s.problem() != null) {
            m.put("problem", s.problem());
        }
        m.put("sha256", s.sha256());
        m.put("pid", p.pid());
        m.put("comm", p.comm());
        m.put("cmdline", p.cmdline());
        m.put("exe", p.exePath());
        m.put("cwd", p.cwd());
        m.put("umask", String.format("%04o", p.umask()));
        m.put("stopped", p.stopped());
        m.put("dumpedAt", Instant.ofEpochMilli(p.dumpedAtMillis()).toString());
        m.put("host", p.hostname());
        m.put("kernel", p.kernel());
        Map<String, Object> regs = new LinkedHashMap<>();
        for (int i = 0; i < Regs.COUNT; i++) {
            regs.put(Regs.NAMES[i], hex(t.regs()[i]));
        }
        m.put("registers", regs);
        m.put("xstateBytes", t.xstate().length);
        List<Object> threads = new ArrayList<>();
        for (ThreadState th : s.head().threads()) {
            Map<String, Object> tm = new LinkedHashMap<>();
            tm.put("tid", th.tid());
            tm.put("rip", hex(th.regs()[Regs.RIP]));
            tm.put("rsp", hex(th.regs()[Regs.RSP]));
            tm.put("inSyscall", th.regs()[Regs.ORIG_RAX] >= 0 ? th.regs()[Regs.ORIG_RAX] : null);
            tm.put("blocked", hex(th.sigmask()));
            tm.put("pending", th.pending().size());
            threads.add(tm);
        }
        m.put("threads", threads);
        List<Object> areas = new ArrayList<>();
        for (MemoryArea a : s.head().areas()) {
            Map<String, Object> am = new LinkedHashMap<>();
            am.put("start", hex(a.start()));
            am.put("end", hex(a.end()));
            am.put("prot", a.protString());
            am.put("kind", a.kind().name());
            am.put("backing", backing(a));
            am.put("storedBytes", s.storedPerArea().getOrDefault(a, 0L));
            areas.add(am);
        }
        m.put("areas", areas);
        List<Object> fds = new ArrayList<>();
        for (FdEntry f : s.head().fds()) {
            Map<String, Object> fm = new LinkedHashMap<>();
            fm.put("fd", f.fd());
            fm.put("kind", f.kind().name());
            fm.put("path", f.path());
            fm.put("flags", String.format("0%o", f.flags()));
            fm.put("position", f.position());
            fm.put("cloexec", f.cloexec());
            Map<String, Object> socket = socket(f);
            if (socket != null) {
                fm.put("socket", socket);
            }
            fds.add(fm);
        }
        m.put("fds", fds);
        List<Object> ghosts = new ArrayList<>();
        for (GhostFile g : s.head().ghosts()) {
            Map<String, Object> gm = new LinkedHashMap<>();
            gm.put("kind", g.kind().name());
            gm.put("path", g.path());
            gm.put("size", g.file().size());
            gm.put("mode", String.format("0%o", g.file().mode() & 07777));
            gm.put("uid", g.uid());
            gm.put("gid", g.gid());
            gm.put("seals", g.seals());
            ghosts.add(gm);
        }
        m.put("ghostFiles", ghosts);
        Map<String, Object> sig = new LinkedHashMap<>();
        sig.put("blocked", hex(t.sigmask()));
        sig.put("handlers", handlers());
        sig.put("pending", t.pending().size() + s.head().signals().sharedPending().size());
        sig.put("altstack", t.altstack()[0] == 0 ? null : hex(t.altstack()[0]) + "+" + t.altstack()[2]);
        m.put("signals", sig);
        Map<String, Object> totals = new LinkedHashMap<>();
        totals.put("areas", s.head().areas().size());
        totals.put("storedBytes", s.storedBytes());
        totals.put("imageBytes", s.imageBytes());
        totals.put("fds", s.head().fds().size());
        totals.put("threads", s.head().threads().size());
        m.put("totals", totals);
        List<Object> processes = new ArrayList<>();
        for (ProcessTree.Member pm : s.tree().tree().members()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("pid", pm.pid());
            row.put("ppid", pm.ppid());
            row.put("pgid", pm.pgid());
            row.put("sid", pm.sid());
            row.put("comm", pm.comm());
            row.put("zombie", pm.zombie());
            if (pm.zombie()) {
                row.put("exitStatus", pm.exitStatus());
            } else {
                row.put("threads", s.tree().head(pm.pid()).threads().size());
                row.put("storedBytes", s.storedPerProcess().getOrDefault(pm.pid(), 0L));
            }
            processes.add(row);
        }
        m.put("processes", processes);
        return m;
    }

    String toText(int verbosity) {
        ProcessInfo p = s.head().process();
        ThreadState t = s.head().thread();
        StringBuilder b = new StringBuilder();
        b.append(String.format("telefork image, format version %d: %s%n", s.version(),
                s.verified() ? "all checksums verify, sha256 " + s.sha256() : "DOES NOT VERIFY: " + s.problem()));
        appendTree(b);
        b.append(String.format("process   %d (%s)%s%n", p.pid(), p.comm(), p.stopped() ? ", stopped" : ""));
        b.append(String.format("command   %s%n", String.join(" ", p.cmdline())));
        b.append(String.format("exe       %s%ncwd       %s   umask %04o%n", p.exePath(), p.cwd(), p.umask()));
        b.append(String.format("dumped    %s on %s (kernel %s)%n", Instant.ofEpochMilli(p.dumpedAtMillis()),
                p.hostname(), p.kernel()));
        long[] r = t.regs();
        b.append(String.format("registers rip %s  rsp %s  rax %s  orig_rax %d  fs_base %s  xstate %d bytes%n",
                hex(r[Regs.RIP]), hex(r[Regs.RSP]), hex(r[Regs.RAX]), r[Regs.ORIG_RAX], hex(r[Regs.FS_BASE]),
                t.xstate().length));
        if (verbosity > 0) {
            for (int i = 0; i < Regs.COUNT; i++) {
                b.append(String.format("  %-8s %s%n", Regs.NAMES[i], hex(r[i])));
            }
        }
        b.append(String.format("threads   %d%n", s.head().threads().size()));
        for (ThreadState th : s.head().threads()) {
            long[] tr = th.regs();
            b.append(String.format("  %7d  rip %s  %s  blocked %s%s%n", th.tid(), hex(tr[Regs.RIP]),
                    tr[Regs.ORIG_RAX] >= 0 ? "in system call " + tr[Regs.ORIG_RAX] : "in user code",
                    hex(th.sigmask()), th.pending().isEmpty() ? "" : ", " + th.pending().size() + " pending"));
        }
        b.append(String.format("signals   blocked %s, handlers for %s, %d pending%s%n", hex(t.sigmask()),
                handlers().isEmpty() ? "none" : String.join(" ", handlers()),
                t.pending().size() + s.head().signals().sharedPending().size(),
                t.altstack()[0] == 0 ? "" : ", altstack " + hex(t.altstack()[0]) + "+" + t.altstack()[2]));
        b.append(String.format("%nmemory areas%n  %-33s %-5s %-18s %12s  %s%n", "range", "prot", "kind", "stored",
                "backing"));
        for (MemoryArea a : s.head().areas()) {
            b.append(String.format("  %16x-%-16x %-5s %-18s %12s  %s%n", a.start(), a.end(), a.protString(),
                    a.kind(), size(s.storedPerArea().getOrDefault(a, 0L)), backing(a)));
        }
        b.append(String.format("%nfile descriptors%n"));
        for (FdEntry f : s.head().fds()) {
            b.append(String.format("  %3d %-12s flags 0%-7o pos %-10d %s%s%n", f.fd(), f.kind(), f.flags(),
                    f.position(), f.path(), f.cloexec() ? " (cloexec)" : ""));
            Map<String, Object> socket = socket(f);
            if (socket != null) {
                b.append(String.format("      %s %s%s, %s%s%n", socket.get("protocol"), socket.get("local"),
                        socket.containsKey("peer") ? " -> " + socket.get("peer") : "", socket.get("state"),
                        socket.containsKey("receiveQueue") ? String.format(" (queued: %s to read, %s sent unacknowledged, "
                                + "%s unsent)", size((Long) socket.get("receiveQueue")), size((Long) socket.get("unacked")),
                                size((Long) socket.get("unsent"))) : ""));
            }
        }
        if (!s.head().ghosts().isEmpty()) {
            b.append(String.format("%nfiles without a name (content in the image)%n"));
            for (GhostFile g : s.head().ghosts()) {
                b.append(String.format("  %-12s %10s  mode 0%o  owner %d:%d%s  %s%n", g.kind(), size(g.file().size()),
                        g.file().mode() & 07777, g.uid(), g.gid(),
                        g.kind() == GhostFile.Kind.MEMFD ? String.format("  seals 0x%x", g.seals()) : "", g.path()));
            }
        }
        b.append(String.format("%ntotals    %d areas, %s of pages stored, image %s, %d fds%n",
                s.head().areas().size(), size(s.storedBytes()), size(s.imageBytes()), s.head().fds().size()));
        return b.toString();
    }

    /** Protocol, addresses and state of a socket descriptor; null for other kinds. */
    private static Map<String, Object> socket(FdEntry f) {
        Map<String, Object> m = new LinkedHashMap<>();
        long[] p = f.params();
        switch (f.kind()) {
            case SOCKET, SOCKET_CLOSED -> {
                if (p.length < 10) {
                    m.put("protocol", "unix");
                    m.put("local", "");
                    m.put("state", "connected to a process outside, or to nothing: restored closed (reads end of file)");
                    return m;
                }
                m.put("protocol", ip(p));
                m.put("local", SocketAddress.describe(Arrays.copyOf(f.data(), (int) p[9])));
                String peer = SocketAddress.describe(Arrays.copyOfRange(f.data(), (int) p[9], f.data().length));
                if (!peer.isEmpty()) {
                    m.put("peer", peer);
                }
                m.put("state", f.kind() == FdEntry.Kind.SOCKET_CLOSED ? "established: restored closed (reads end of file)"
                        : p[3] == 1 ? "listening" : peer.isEmpty() ? "bound" : "connected");
            }
            case TCP_ESTABLISHED -> {
                try {
                    TcpConnection c = TcpConnection.of(f);
                    m.put("protocol", ip(p));
                    m.put("local", SocketAddress.describe(c.local()));
                    m.put("peer", SocketAddress.describe(c.peer()));
                    m.put("state", "established: kept (TCP repair)");
                    m.put("receiveQueue", (long) c.received().length);
                    m.put("unacked", (long) c.unacked().length);
                    m.put("unsent", (long) c.unsent().length);
                } catch (ImageFormatException e) {
                    m.put("protocol", "tcp");
                    m.put("local", "?");
                    m.put("state", "malformed: " + e.getMessage());
                }
            }
            case UNIX_SOCKET -> {
                m.put("protocol", "unix " + unixType(p[0]));
                m.put("local", SocketAddress.describe(Arrays.copyOf(f.data(), (int) p[2])));
                String peer = SocketAddress.describe(Arrays.copyOfRange(f.data(), (int) p[2], f.data().length));
                if (!peer.isEmpty()) {
                    m.put("peer", peer);
                }
                m.put("state", p[1] == 1 ? "listening" : peer.isEmpty() ? "bound" : "connected");
            }
            case UNIX_PAIR -> {
                m.put("protocol", "unix " + unixType(p[0]));
                m.put("local", "unnamed");
                m.put("state", "pair with socket:[" + p[2] + "] in the process, " + f.data().length + " bytes queued");
            }
            default -> {
                return null;
            }
        }
        return m;
    }

    private static String ip(long[] p) {
        return (p[1] == 1 ? "tcp" : p[1] == 2 ? "udp" : "type " + p[1]) + (p[0] == 10 ? "6" : "");
    }

    private static String unixType(long type) {
        return type == 1 ? "stream" : type == 2 ? "datagram" : type == 5 ? "seqpacket" : "type " + type;
    }

    /** The processes of the image, each indented under its parent. */
    private void appendTree(StringBuilder b) {
        List<ProcessTree.Member> members = s.tree().tree().members();
        b.append(String.format("processes %d%n  %-24s %7s %7s %7s %7s  %s%n", members.size(), "PID", "PPID", "PGID",
                "SID", "THREADS", "COMM"));
        Map<Integer, Integer> depth = new LinkedHashMap<>();
        for (ProcessTree.Member pm : members) {
            int d = depth.getOrDefault(pm.ppid(), -1) + 1;
            depth.put(pm.pid(), d);
            String pid = "  ".repeat(d) + pm.pid();
            String threads = pm.zombie() ? "-" : Integer.toString(s.tree().head(pm.pid()).threads().size());
            String note = pm.zombie() ? String.format("  (zombie, exit status 0x%x)", pm.exitStatus()) : "";
            b.append(String.format("  %-24s %7d %7d %7d %7s  %s%s%n", pid, pm.ppid(), pm.pgid(), pm.sid(), threads,
                    pm.comm(), note));
        }
        b.append(String.format("%n"));
    }

    private List<String> handlers() {
        SignalState sig = s.head().signals();
        List<String> out = new ArrayList<>();
        for (int i = 1; i <= SignalState.SIGNALS; i++) {
            long h = sig.handler(i);
            if (h == 1) {
                out.add(i + ":ignore");
            } else if (h != 0) {
                out.add(i + ":" + hex(h));
            }
        }
        return out;
    }

    private static String backing(MemoryArea a) {
        return switch (a.kind()) {
            case FILE_PRIVATE, FILE_SHARED, GHOST_PRIVATE, GHOST_SHARED -> a.name() + " @" + hex(a.offset());
            case ANONYMOUS, SHARED_ANONYMOUS -> a.name().isEmpty() ? "anonymous" : a.name();
            default -> a.name();
        };
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    private static String size(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        if (bytes < 1024 * 1024) {
            return String.format("%.1f KiB", bytes / 1024.0);
        }
        return String.format("%.1f MiB", bytes / 1048576.0);
    }
}
