package io.telefork.proc;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Reads what /proc says about a process. Paths are relative to a proc root so tests can point elsewhere. */
public final class ProcFs {
    private final Path root;

    public ProcFs() {
        this(Path.of("/proc"));
    }

    public ProcFs(Path root) {
        this.root = root;
    }

    public Path dir(int pid) {
        return root.resolve(Integer.toString(pid));
    }

    public boolean exists(int pid) {
        return Files.isDirectory(dir(pid));
    }

    /** One line of /proc/PID/maps with the VmFlags of its smaps entry. */
    public record Mapping(long start, long end, String perms, long offset, int devMajor, int devMinor, long inode,
                          String path, String vmFlags, long residentKb) {
        public boolean shared() {
            return perms.charAt(3) == 's';
        }

        public int prot() {
            return (perms.charAt(0) == 'r' ? 1 : 0) | (perms.charAt(1) == 'w' ? 2 : 0) | (perms.charAt(2) == 'x' ? 4 : 0);
        }
    }

    public List<Mapping> mappings(int pid) throws IOException {
        List<Mapping> out = new ArrayList<>();
        Mapping pending = null;
        long resident = 0;
        for (String line : Files.readAllLines(dir(pid).resolve("smaps"))) {
            if (line.startsWith("Rss:") || line.startsWith("Swap:")) {
                resident += Long.parseLong(line.substring(line.indexOf(':') + 1).replace("kB", "").trim());
                continue;
            }
            if (line.startsWith("VmFlags:")) {
                if (pending != null) {
                    out.add(new Mapping(pending.start, pending.end, pending.perms, pending.offset, pending.devMajor,
                            pending.devMinor, pending.inode, pending.path, line.substring(8).trim(), resident));
                    pending = null;
                }
                continue;
            }
            Mapping m = parseMapLine(line);
            if (m != null) {
                if (pending != null) {
                    out.add(pending);
                }
                pending = m;
                resident = 0;
            }
        }
        if (pending != null) {
            out.add(pending);
        }
        return out;
    }

    /**
     * /proc/PID/maps: the layout without VmFlags or residence (empty, -1), read in microseconds where
     * smaps, which walks the page tables, takes tens of milliseconds per GiB of 4 KiB pages.
     */
    public List<Mapping> maps(int pid) throws IOException {
        List<Mapping> out = new ArrayList<>();
        for (String line : Files.readAllLines(dir(pid).resolve("maps"))) {
            Mapping m = parseMapLine(line);
            if (m != null) {
                out.add(m);
            }
        }
        return out;
    }

    /** Parses "start-end perms offset major:minor inode path", or null for smaps detail lines. */
    static Mapping parseMapLine(String line) {
        int dash = line.indexOf('-');
        int sp = line.indexOf(' ');
        if (dash <= 0 || sp < dash || !isHex(line, 0, dash)) {
            return null;
        }
        String[] f = line.split("\\s+", 6);
        if (f.length < 5) {
            return null;
        }
        long start = Long.parseUnsignedLong(f[0].substring(0, dash), 16);
        long end = Long.parseUnsignedLong(f[0].substring(dash + 1), 16);
        String[] dev = f[3].split(":");
        String path = f.length > 5 ? f[5].trim() : "";
        return new Mapping(start, end, f[1], Long.parseUnsignedLong(f[2], 16), Integer.parseInt(dev[0], 16),
                Integer.parseInt(dev[1], 16), Long.parseLong(f[4]), path, "", -1);
    }

    private static boolean isHex(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            if (Character.digit(s.charAt(i), 16) < 0) {
                return false;
            }
        }
        return true;
    }

    /** /proc/PID/status as key -> value. */
    public Map<String, String> status(int pid) throws IOException {
        Map<String, String> m = new HashMap<>();
        for (String line : Files.readAllLines(dir(pid).resolve("status"))) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                m.put(line.substring(0, colon), line.substring(colon + 1).trim());
            }
        }
        return m;
    }

    /**
     * /proc/PID/stat fields, numbered as in proc(5) from 1 (field 2, comm, may hold spaces and is
     * returned without parentheses).
     */
    public String[] stat(int pid) throws IOException {
        String s = Files.readString(dir(pid).resolve("stat"));
        int open = s.indexOf('(');
        int close = s.lastIndexOf(')');
        String[] rest = s.substring(close + 2).trim().split(" ");
        String[] fields = new String[rest.length + 3];
        fields[1] = s.substring(0, open).trim();
        fields[2] = s.substring(open + 1, close);
        System.arraycopy(rest, 0, fields, 3, rest.length);
        return fields;
    }

    /**
     * Resource limits as (soft, hard) pairs, indexed by RLIMIT_* number. Read from /proc/PID/limits, which
     * lists them in that order: prlimit() on another user's process needs CAP_SYS_RESOURCE, which a
     * restorer may lack.
     */
    public long[][] limits(int pid) throws IOException {
        List<String> lines = Files.readAllLines(dir(pid).resolve("limits"));
        long[][] out = new long[lines.size() - 1][];
        for (int i = 1; i < lines.size(); i++) {
            String[] f = lines.get(i).substring(26).trim().split("\\s+");
            out[i - 1] = new long[] {limit(f[0]), limit(f[1])};
        }
        return out;
    }

    private static long limit(String s) {
        return s.equals("unlimited") ? -1L : Long.parseUnsignedLong(s);
    }

    public byte[] read(int pid, String file) throws IOException {
        return Files.readAllBytes(dir(pid).resolve(file));
    }

    public String readLink(int pid, String link) throws IOException {
        return Files.readSymbolicLink(dir(pid).resolve(link)).toString();
    }

    /** Every process (thread group) this /proc shows. */
    public List<Integer> pids() throws IOException {
        List<Integer> out = new ArrayList<>();
        try (var s = Files.list(root)) {
            s.map(p -> p.getFileName().toString()).filter(n -> !n.isEmpty() && n.chars().allMatch(Character::isDigit))
                    .forEach(n -> out.add(Integer.parseInt(n)));
        }
        return out;
    }

    /** The last field of an NS* line of /proc/PID/status (NSpid, NSpgid, NSsid): the ID in the task's own PID namespace. */
    public int idInOwnNamespace(int pid, String field) throws IOException {
        String line = status(pid).get(field);
        if (line == null || line.isBlank()) {
            throw new IOException("/proc/" + pid + "/status has no " + field + " line");
        }
        String[] ids = line.trim().split("\\s+");
        return Integer.parseInt(ids[ids.length - 1]);
    }

    public List<Integer> tasks(int pid) throws IOException {
        List<Integer> out = new ArrayList<>();
        try (var s = Files.list(dir(pid).resolve("task"))) {
            s.forEach(p -> out.add(Integer.parseInt(p.getFileName().toString())));
        }
        out.sort(null);
        return out;
    }

    /** The children of every thread of the process (a child belongs to the thread that forked it). */
    public List<Integer> children(int pid) throws IOException {
        List<Integer> out = new ArrayList<>();
        for (int tid : tasks(pid)) {
            String list;
            try {
                list = Files.readString(dir(pid).resolve("task").resolve(Integer.toString(tid)).resolve("children"));
            } catch (NoSuchFileException e) {
                continue; // the thread exited
            }
            for (String c : list.trim().split("\\s+")) {
                if (!c.isEmpty()) {
                    out.add(Integer.parseInt(c));
                }
            }
        }
        return out;
    }

    public List<Integer> fds(int pid) throws IOException {
        List<Integer> out = new ArrayList<>();
        try (var s = Files.list(dir(pid).resolve("fd"))) {
            s.forEach(p -> out.add(Integer.parseInt(p.getFileName().toString())));
        } catch (NoSuchFileException e) {
            return out;
        }
        out.sort(null);
        return out;
    }

    /** /proc/PID/fdinfo/FD as key -> value (pos, flags in octal, mnt_id, ...). */
    public Map<String, String> fdinfo(int pid, int fd) throws IOException {
        Map<String, String> m = new HashMap<>();
        for (String line : Files.readAllLines(dir(pid).resolve("fdinfo").resolve(Integer.toString(fd)))) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                m.putIfAbsent(line.substring(0, colon), line.substring(colon + 1).trim());
            }
        }
        return m;
    }

    /** Pagemap entries for [start, end): bit 63 present, 62 swapped, 61 file-page or shared-anonymous. */
    public long[] pagemap(int pid, long start, long end) throws IOException {
        int pages = (int) ((end - start) >>> 12);
        long[] out = new long[pages];
        try (FileChannel ch = FileChannel.open(dir(pid).resolve("pagemap"), StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(Math.min(pages, 65536) * 8).order(ByteOrder.nativeOrder());
            int done = 0;
            while (done < pages) {
                buf.clear();
                buf.limit(Math.min(pages - done, 65536) * 8);
                long pos = ((start >>> 12) + done) * 8;
                while (buf.hasRemaining()) {
                    int n = ch.read(buf, pos + buf.position());
                    if (n <= 0) {
                        throw new IOException("short read of pagemap of " + pid);
                    }
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    out[done++] = buf.getLong();
                }
            }
        }
        return out;
    }

    public static final long PM_PRESENT = 1L << 63;
    public static final long PM_SWAPPED = 1L << 62;
    public static final long PM_FILE = 1L << 61;
}
