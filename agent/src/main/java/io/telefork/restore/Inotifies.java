package io.telefork.restore;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.image.FdEntry;
import io.telefork.sys.Remote;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Re-creates inotify instances inside the vessel with the same watch descriptors. The kernel hands out
 * watch descriptors in increasing order, cyclically (an IDR), starting at 1 in a new instance: the
 * watches are added in the order of their numbers, and a number no watch had any more is used up by
 * a throw-away watch added and removed at once. The IN_IGNORED events those removals queue are read
 * out before the process runs. Events that were queued at the dump are lost.
 */
final class Inotifies {
    private static final int SYS_INOTIFY_INIT1 = 294;
    private static final int SYS_INOTIFY_ADD_WATCH = 254;
    private static final int SYS_INOTIFY_RM_WATCH = 255;
    private static final int IN_NONBLOCK = 04000;
    private static final long IN_MASK_CREATE = 0x10000000L;
    private static final long IN_DELETE_SELF = 0x400;
    private static final int EAGAIN = 11;
    private static final int EEXIST = 17;
    /** Numbers skipped in one instance, at three injected calls each: beyond this, refuse rather than crawl. */
    private static final long MAX_SKIPPED = 65536;
    /** Inodes a throw-away watch can go on; one the instance watches already is passed over. */
    private static final String[] THROWAWAY = {"/", "/dev", "/proc", "/sys", "/tmp", "/etc", "/usr", "/var"};

    private final Remote remote;
    private final int vessel;
    private final long scratch;
    private final GhostFiles.Adopter adopter;

    Inotifies(Remote remote, int vessel, long scratch, GhostFiles.Adopter adopter) {
        this.remote = remote;
        this.vessel = vessel;
        this.scratch = scratch;
        this.adopter = adopter;
    }

    int create(FdEntry f) throws Exception {
        int fd = adopter.adopt(remote.call("inotify_init1", SYS_INOTIFY_INIT1, IN_NONBLOCK | Sys.O_CLOEXEC));
        long[] p = f.params();
        List<String> paths = paths(f);
        if (paths.size() * 2 != p.length) {
            throw new EngineException(Reason.BAD_IMAGE, "inotify fd " + f.fd() + " has " + p.length / 2
                    + " watches but " + paths.size() + " paths");
        }
        long next = 1;
        long skipped = 0;
        for (int i = 0; i < paths.size(); i++) {
            long wd = p[2 * i];
            if (wd < next) {
                throw new EngineException(Reason.BAD_IMAGE, "inotify fd " + f.fd() + " lists watch " + wd + " out of order");
            }
            skipped += wd - next;
            if (skipped > MAX_SKIPPED) {
                throw new EngineException(Reason.UNSUPPORTED, "inotify fd " + f.fd() + " has watch descriptor " + wd
                        + " with " + skipped + " unused numbers below it; more than " + MAX_SKIPPED
                        + " cannot be skipped");
            }
            for (; next < wd; next++) {
                skip(fd, next, f);
            }
            long got = remote.raw(SYS_INOTIFY_ADD_WATCH, fd, putString(paths.get(i)), p[2 * i + 1]);
            if (got < 0) {
                throw new EngineException(Reason.FILE_CHANGED, "cannot watch " + paths.get(i) + " again (inotify fd "
                        + f.fd() + ", watch " + wd + "): " + Sys.errno(got));
            }
            if (got != wd) {
                throw new SysException("inotify watch of " + paths.get(i) + " got number " + got + ", not " + wd);
            }
            next = wd + 1;
        }
        drain(fd);
        remote.call("fcntl(F_SETFL)", Sys.SYS_FCNTL, fd, Sys.F_SETFL, f.flags() & ~Sys.O_ACCMODE);
        return fd;
    }

    /** Uses up watch number {@code wd} with a throw-away watch on an inode the instance does not watch yet. */
    private void skip(int fd, long wd, FdEntry f) throws Exception {
        for (String path : THROWAWAY) {
            long got = remote.raw(SYS_INOTIFY_ADD_WATCH, fd, putString(path), IN_DELETE_SELF | IN_MASK_CREATE);
            if (got == -EEXIST || got < 0) {
                continue; // watched already (or not there): IN_MASK_CREATE left that watch alone
            }
            remote.call("inotify_rm_watch", SYS_INOTIFY_RM_WATCH, fd, got);
            if (got != wd) {
                throw new SysException("a throw-away inotify watch got number " + got + ", not " + wd);
            }
            return;
        }
        throw new EngineException(Reason.INCOMPATIBLE, "no inode left in the vessel to skip inotify watch number " + wd
                + " of fd " + f.fd() + " with");
    }

    /** Reads out what the throw-away watches left queued (IN_IGNORED events). */
    private void drain(int fd) throws SysException {
        while (true) {
            long n = remote.raw(Sys.SYS_READ, fd, scratch, Sys.PAGE);
            if (n == -EAGAIN || n == 0) {
                return;
            }
            if (n < 0) {
                throw new SysException("read of a new inotify instance", (int) -n);
            }
        }
    }

    private static List<String> paths(FdEntry f) {
        List<String> out = new ArrayList<>();
        byte[] d = f.data();
        int start = 0;
        for (int i = 0; i < d.length; i++) {
            if (d[i] == 0) {
                out.add(new String(d, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        return out;
    }

    private long putString(String s) throws EngineException, SysException {
        return ScratchPage.putString(vessel, scratch, s);
    }
}
