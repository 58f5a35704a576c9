package io.telefork.restore;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.image.MemoryArea;
import io.telefork.sys.Kernel;
import io.telefork.sys.Remote;
import io.telefork.sys.Sys;
import io.telefork.sys.SysException;
import io.telefork.sys.Userfaultfd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Puts pages into the vessel with process_vm_writev, or, when asked, anonymous areas with UFFDIO_COPY
 * through a userfaultfd made in the vessel (1.7x faster than process_vm_writev into fresh pages on a
 * bare machine; slower in the VMs measured so far, see the README's benchmark), falling back to
 * process_vm_writev wherever userfaultfd is not allowed (a seccomp profile, no privilege).
 */
final class PageFiller implements AutoCloseable {
    private static final int SYS_USERFAULTFD = 323;
    private static final int SYS_IOCTL = 16;
    private static final long UFFDIO_API = 0xc018aa3fL;
    private static final long UFFDIO_REGISTER = 0xc020aa00L;
    private static final long UFFD_API = 0xAA;
    private static final long UFFDIO_REGISTER_MODE_MISSING = 1;
    private static final int O_NONBLOCK = 04000;

    private final Remote remote;
    private final int vessel;
    private final List<MemoryArea> registered = new ArrayList<>();
    private long vesselUffd = -1;
    private int uffd = -1;
    private boolean lazy;

    PageFiller(Remote remote, int vessel) {
        this.remote = remote;
        this.vessel = vessel;
    }

    /** Tries to take the anonymous areas over with a userfaultfd; on any refusal, stays with process_vm_writev. */
    void setUp(List<MemoryArea> areas, long scratch, boolean userfaultfd) throws SysException {
        if (userfaultfd) {
            register(areas, scratch, 0, false);
        }
    }

    /**
     * Takes the private anonymous areas over with a userfaultfd that also reports forks, moves and
     * removals, for a lazy restore: their pages are then filled only after the process runs. The brk heap
     * and shared anonymous memory are not taken: they are filled before the process runs.
     */
    void setUpLazy(List<MemoryArea> areas, long scratch) throws SysException, EngineException {
        long features = Userfaultfd.FEATURE_EVENT_FORK | Userfaultfd.FEATURE_EVENT_REMAP
                | Userfaultfd.FEATURE_EVENT_REMOVE | Userfaultfd.FEATURE_EVENT_UNMAP;
        String refusal = register(areas, scratch, features, true);
        if (refusal != null) {
            throw new EngineException(Reason.INCOMPATIBLE, "--lazy needs a userfaultfd in the restored process, "
                    + "with fork, remap, remove and unmap events: " + refusal);
        }
    }

    /** Whether pages at {@code address} are left to the lazy phase. */
    boolean lazy(long address) {
        for (MemoryArea a : registered) {
            if (Long.compareUnsigned(address, a.start()) >= 0 && Long.compareUnsigned(address, a.end()) < 0) {
                return lazy;
            }
        }
        return false;
    }

    /** The lazily filled areas, as {start, length} pairs. */
    List<long[]> lazyAreas() {
        return registered.stream().map(a -> new long[] {a.start(), a.length()}).toList();
    }

    /**
     * Closes the vessel's descriptor (the restored process must not hold it) and hands this process's
     * over to the caller, which must close it only once every page is in.
     */
    int handOver() throws SysException {
        int fd = uffd;
        uffd = -1;
        close();
        return fd;
    }

    /** Returns why the areas could not be registered, or null. */
    private String register(List<MemoryArea> areas, long scratch, long features, boolean forLazy)
            throws SysException {
        long fd = remote.raw(SYS_USERFAULTFD, Sys.O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            return "userfaultfd: " + Sys.errno(fd);
        }
        vesselUffd = fd;
        ByteBuffer b = ByteBuffer.allocateDirect(32).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, UFFD_API).putLong(8, features).putLong(16, 0);
        write(b, scratch, 24);
        long api = remote.raw(SYS_IOCTL, fd, UFFDIO_API, scratch);
        if (api < 0) {
            return "UFFDIO_API: " + Sys.errno(api);
        }
        lazy = forLazy;
        for (MemoryArea a : areas) {
            // Lazily, not the brk heap: registered, it would not merge with its growth (the program would
            // see its [heap] split in /proc/PID/maps), and shared memory, which a fork shares.
            boolean anonymous = switch (a.kind()) {
                case ANONYMOUS -> !a.shared() || !forLazy;
                case HEAP -> !forLazy;
                case SHARED_ANONYMOUS -> !forLazy;
                default -> false;
            };
            if (!anonymous) {
                continue;
            }
            b.putLong(0, a.start()).putLong(8, a.length()).putLong(16, UFFDIO_REGISTER_MODE_MISSING).putLong(24, 0);
            write(b, scratch, 32);
            long r = remote.raw(SYS_IOCTL, fd, UFFDIO_REGISTER, scratch);
            if (r == 0) {
                registered.add(a);
            } else if (forLazy) {
                return String.format("UFFDIO_REGISTER of %x-%x: %s", a.start(), a.end(), Sys.errno(r));
            }
        }
        if (!registered.isEmpty() || forLazy) {
            uffd = Kernel.stealFd(vessel, (int) fd);
        }
        return null;
    }

    /** Writes {@code length} bytes from {@code pages}' position at {@code address}. */
    void fill(MemoryArea area, long address, ByteBuffer pages, int length) throws SysException {
        if (uffd >= 0 && !lazy && registered.contains(area) && Userfaultfd.fill(uffd, address, pages, length)) {
            return;
        }
        long n = Kernel.writeMemory(vessel, address, pages, length);
        if (n != length) {
            throw new SysException(String.format("short write of pages at 0x%x", address));
        }
    }

    /** Lets go of the userfaultfd in both processes: pages not filled are plain zero-fill-on-demand again. */
    @Override
    public void close() throws SysException {
        if (uffd >= 0) {
            Kernel.close(uffd);
            uffd = -1;
        }
        if (vesselUffd >= 0) {
            remote.raw(Sys.SYS_CLOSE, vesselUffd);
            vesselUffd = -1;
        }
    }

    private void write(ByteBuffer b, long scratch, int length) throws SysException {
        b.position(0);
        Kernel.writeMemory(vessel, scratch, b, length);
    }
}
