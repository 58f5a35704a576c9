package io.telefork.dump;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.image.FdEntry;
import io.telefork.proc.FileIds;
import io.telefork.proc.ProcFs;
import io.telefork.sys.Kernel;
import io.telefork.sys.SysException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The watches of an inotify descriptor. Its fdinfo lists each watch's number, mask and the watched inode
 * as a file handle; the handle is opened (open_by_handle_at, on a mount of the inode's filesystem) to
 * learn a path to the inode, which the restore watches again. A path is only taken when it leads back to
 * the same inode.
 */
final class InotifyWatches {
    /** What inotify_add_watch takes back: the events and IN_ONESHOT, IN_EXCL_UNLINK, IN_DONT_FOLLOW, IN_ONLYDIR. */
    private static final long USER_MASK = 0xfffL | 0x80000000L | 0x04000000L | 0x02000000L | 0x01000000L;
    private static final long IN_DONT_FOLLOW = 0x02000000L;

    private final ProcFs proc;
    private final int pid;

    InotifyWatches(ProcFs proc, int pid) {
        this.proc = proc;
        this.pid = pid;
    }

    private record Watch(long wd, long ino, long sdev, long mask, int handleType, byte[] handle) {
    }

    FdEntry read(int fd, String target, int flags, boolean cloexec) throws IOException, EngineException {
        List<Watch> watches = new ArrayList<>();
        for (String line : Files.readAllLines(proc.dir(pid).resolve("fdinfo").resolve(Integer.toString(fd)))) {
            if (line.startsWith("inotify ")) {
                watches.add(parse(line));
            }
        }
        watches.sort((a, b) -> Long.compare(a.wd, b.wd));
        String what = "process " + pid + " has fd " + fd + " open on " + target;
        if (!watches.isEmpty() && !proc.readLink(pid, "ns/mnt").equals(Files.readSymbolicLink(Path.of("/proc/self/ns/mnt"))
                .toString())) {
            // The paths are found in telefork's own mount namespace and would mean other files in the process's.
            throw new EngineException(Reason.UNSUPPORTED, what + " with watches, in another mount namespace than "
                    + "telefork's; not supported yet");
        }
        long[] params = new long[watches.size() * 2];
        ByteArrayOutputStream paths = new ByteArrayOutputStream();
        for (int i = 0; i < watches.size(); i++) {
            Watch w = watches.get(i);
            String path = path(w, what);
            boolean symlink = Files.isSymbolicLink(Path.of(path));
            params[2 * i] = w.wd;
            params[2 * i + 1] = (w.mask & USER_MASK) | (symlink ? IN_DONT_FOLLOW : 0);
            paths.writeBytes(path.getBytes(StandardCharsets.UTF_8));
            paths.write(0);
        }
        return new FdEntry(fd, FdEntry.Kind.INOTIFY, target, flags, cloexec, 0, FileIds.NONE, params,
                paths.toByteArray());
    }

    /** "inotify wd:3 ino:10c143 sdev:fe00000 mask:fff ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:43c1..." (hex) */
    private static Watch parse(String line) throws EngineException {
        Map<String, String> f = new java.util.HashMap<>();
        for (String field : line.substring("inotify ".length()).trim().split("\\s+")) {
            int colon = field.indexOf(':');
            if (colon > 0) {
                f.put(field.substring(0, colon), field.substring(colon + 1));
            }
        }
        try {
            return new Watch(Long.parseLong(f.get("wd"), 16), Long.parseUnsignedLong(f.get("ino"), 16),
                    Long.parseLong(f.get("sdev"), 16), Long.parseLong(f.get("mask"), 16),
                    Integer.parseInt(f.get("fhandle-type"), 16), HexFormat.of().parseHex(f.get("f_handle")));
        } catch (RuntimeException e) {
            throw new EngineException(Reason.UNSUPPORTED, "cannot read the inotify watch \"" + line + "\"");
        }
    }

    /** A path to the watched inode, checked to lead to that very inode. */
    private String path(Watch w, String what) throws IOException, EngineException {
        long major = w.sdev >>> 20;
        long minor = w.sdev & 0xfffff;
        String where = String.format(" watching inode %d on device %d:%d (wd %d)", w.ino, major, minor, w.wd);
        for (String mount : mountPoints(major, minor)) {
            int fd;
            try {
                fd = Kernel.openByHandle(mount, w.handleType, w.handle);
            } catch (SysException e) {
                continue; // e.g. a bind mount of another part of the filesystem: try the next mount
            }
            try {
                String path = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
                if (sameInode(Path.of(path), w.ino, major, minor)) {
                    return path;
                }
            } finally {
                Kernel.close(fd);
            }
        }
        throw new EngineException(Reason.UNSUPPORTED, what + where + ", to which no path leads (deleted, or on a "
                + "filesystem without file handles); not supported");
    }

    private static boolean sameInode(Path path, long ino, long major, long minor) {
        try {
            Map<String, Object> a = Files.readAttributes(path, "unix:dev,ino", LinkOption.NOFOLLOW_LINKS);
            long dev = (Long) a.get("dev");
            // glibc's dev_t: major in bits 8-19 and 32-43, minor in bits 0-7 and 12-31
            long devMajor = ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL);
            long devMinor = (dev & 0xff) | ((dev >>> 12) & ~0xffL);
            return (Long) a.get("ino") == ino && devMajor == major && devMinor == minor;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Mount points (as the process sees them, which is as telefork does) of device major:minor, whole-filesystem mounts first. */
    private List<String> mountPoints(long major, long minor) throws IOException {
        List<String> whole = new ArrayList<>();
        List<String> parts = new ArrayList<>();
        for (String line : Files.readAllLines(proc.dir(pid).resolve("mountinfo"))) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[2].equals(major + ":" + minor)) {
                (f[3].equals("/") ? whole : parts).add(unescape(f[4]));
            }
        }
        whole.addAll(parts);
        return whole;
    }

    /** mountinfo escapes space, tab, newline and backslash as \ooo. */
    private static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
