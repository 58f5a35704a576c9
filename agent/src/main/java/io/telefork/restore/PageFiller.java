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
 * Puts pages into the vessel with process_vm_writev, or, when opened, anonymous areas with UFFDIO_COPY
 * through a userfaultfd made in the vessel (faster into fresh pages: see {@link io.telefork.engine.PageFill}),
 * falling back to process_vm_writev wherever userfaultfd is not allowed (a seccomp profile, no privilege).
 */
final class PageFiller implements AutoCloseable {
    private static final int SYS_USERFAULTFD = 323;
    private static final int SYS_IOCTL = 16;
    private static final int O_NONBLOCK = 04000;
    private static final int EPERM = 1;
    private static final int SYS_SOCKETPAIR = 53;
    private static final int SYS_RECVMSG = 47;
    private static final int AF_UNIX = 1;
    private static final int SOCK_STREAM = 1;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final long USERFAULTFD_IOC_NEW = 0xaa00;

    private static final long LAZY_FEATURES = Userfaultfd.FEATURE_EVENT_FORK | Userfaultfd.FEATURE_EVENT_REMAP
            | Userfaultfd.FEATURE_EVENT_REMOVE | Userfaultfd.FEATURE_EVENT_UNMAP;

    private final Remote remote;
    private final int vessel;
    private final List<MemoryArea> registered = new ArrayList<>();
    private int uffd = -1;
    private boolean lazy;

    PageFiller(Remote remote, int vessel) {
        this.remote = remote;
        this.vessel = vessel;
    }

    /**
     * Before the point of no return, while the vessel still has its own memory: makes the userfaultfd of
     * its memory (the same memory once it is replaced) and takes it over; lazily, with the events that keep
     * the lazy phase correct (fork, move, removal). Returns why it could not (this filler then stays with
     * process_vm_writev), or null.
     */
    String open(long scratch, boolean forLazy) throws SysException {
        String refusal = openUffd(scratch, forLazy ? LAZY_FEATURES : 0);
        lazy = forLazy && refusal == null;
        return refusal;
    }

    /** Whether this filler leaves the private anonymous areas to a lazy phase. */
    boolean lazy() {
        return lazy;
    }

    /**
     * Takes the areas over with the userfaultfd, if {@link #open} made one: lazily, the private anonymous
     * areas, whose pages are then filled only after the process runs (the brk heap and shared anonymous
     * memory are filled before it runs); eagerly, the anonymous ones, where refusals are skipped.
     */
    void register(List<MemoryArea> areas) throws SysException, EngineException {
        if (uffd < 0) {
            return;
        }
        for (MemoryArea a : areas) {
            // Lazily, the areas the image's LAZY record covers (MemoryArea.filledLazily, one rule for the dump's
            // page order and this); eagerly, all anonymous memory.
            boolean anonymous = lazy ? a.filledLazily() : filledEagerly(a);
            if (!anonymous) {
                continue;
            }
            long r = Userfaultfd.registerMissing(uffd, a.start(), a.length());
            if (r == 0) {
                registered.add(a);
            } else if (lazy) {
                throw new EngineException(Reason.INCOMPATIBLE, String.format("--lazy could not take memory area "
                        + "%x-%x: UFFDIO_REGISTER: %s", a.start(), a.end(), Sys.errno(r)));
            }
        }
    }

    /** The bytes of the areas an eager restore would fill through a userfaultfd. */
    static long eagerBytes(List<MemoryArea> areas) {
        return areas.stream().filter(PageFiller::filledEagerly).mapToLong(MemoryArea::length).sum();
    }

    private static boolean filledEagerly(MemoryArea a) {
        return switch (a.kind()) {
            case ANONYMOUS, HEAP, SHARED_ANONYMOUS -> true;
            default -> false;
        };
    }

    /** Whether an eager restore's anonymous areas are filled by UFFDIO_COPY (some are registered with the userfaultfd). */
    boolean copies() {
        return uffd >= 0 && !lazy && !registered.isEmpty();
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

    /** Hands the userfaultfd over to the caller, which must close it only once every page is in. */
    int handOver() {
        int fd = uffd;
        uffd = -1;
        return fd;
    }

    /**
     * Makes the userfaultfd in the vessel, takes it into this process and closes the vessel's (the restored
     * process must not hold it); UFFDIO_API is asked from here. Returns why it could not, or null.
     */
    private String openUffd(long scratch, long features) throws SysException {
        long fd = remote.raw(SYS_USERFAULTFD, Sys.O_CLOEXEC | O_NONBLOCK);
        if (fd == -EPERM) {
            // A vessel without CAP_SYS_PTRACE while vm.unprivileged_userfaultfd is 0, as a pod's is.
            fd = fromDevice(scratch);
        }
        if (fd < 0) {
            return "userfaultfd: " + Sys.errno(fd);
        }
        try {
            uffd = Kernel.stealFd(vessel, (int) fd);
        } finally {
            remote.raw(Sys.SYS_CLOSE, fd);
        }
        long api = Userfaultfd.api(uffd, features);
        if (api < 0) {
            close();
            return "UFFDIO_API: " + Sys.errno(api);
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

    /** Lets go of the userfaultfd: pages not filled are plain zero-fill-on-demand again. */
    @Override
    public void close() {
        if (uffd >= 0) {
            Kernel.close(uffd);
            uffd = -1;
        }
        lazy = false;
    }

    /**
     * A userfaultfd made in the vessel from /dev/userfaultfd, which this restorer may open and the vessel
     * may then use whatever its privileges: the opened device goes to the vessel over a socket pair made
     * in the vessel (this restorer takes one end with pidfd_getfd), and the vessel's ioctl
     * USERFAULTFD_IOC_NEW gives a userfaultfd of its own memory. Returns it, or -errno.
     */
    private long fromDevice(long scratch) throws SysException {
        int device;
        try {
            device = Kernel.open("/dev/userfaultfd", Sys.O_RDWR);
        } catch (SysException e) {
            return -EPERM;
        }
        long[] pair = null;
        long received = -1;
        try {
            long r = remote.raw(SYS_SOCKETPAIR, AF_UNIX, SOCK_STREAM | Sys.O_CLOEXEC, 0, scratch);
            if (r < 0) {
                return r;
            }
            ByteBuffer b = ByteBuffer.allocateDirect(Kernel.MSGHDR_BYTES + 16 + Kernel.FD_CMSG_SPACE + 8)
                    .order(ByteOrder.LITTLE_ENDIAN);
            Kernel.readMemory(vessel, scratch, b, 8);
            pair = new long[] {b.getInt(0), b.getInt(4)};
            int mine = Kernel.stealFd(vessel, (int) pair[1]);
            try {
                Kernel.sendFd(mine, device);
            } finally {
                Kernel.close(mine);
            }
            // The vessel's msghdr, iovec, control buffer and data byte, one after the other in its scratch page.
            long iov = scratch + Kernel.MSGHDR_BYTES;
            long control = iov + 16;
            b.clear();
            for (int i = 0; i < b.capacity(); i += 8) {
                b.putLong(i, 0);
            }
            b.putLong(16, iov).putLong(24, 1).putLong(32, control).putLong(40, Kernel.FD_CMSG_SPACE);
            b.putLong(Kernel.MSGHDR_BYTES, control + Kernel.FD_CMSG_SPACE).putLong(Kernel.MSGHDR_BYTES + 8, 1);
            write(b, scratch, b.capacity());
            r = remote.raw(SYS_RECVMSG, pair[0], scratch, MSG_CMSG_CLOEXEC);
            if (r < 0) {
                return r;
            }
            b.clear();
            Kernel.readMemory(vessel, control, b, Kernel.FD_CMSG_SPACE);
            if (b.getInt(8) != SOL_SOCKET || b.getInt(12) != SCM_RIGHTS) {
                throw new SysException("the vessel received no descriptor of /dev/userfaultfd");
            }
            received = b.getInt(16);
            return remote.raw(SYS_IOCTL, received, USERFAULTFD_IOC_NEW, Sys.O_CLOEXEC | O_NONBLOCK);
        } finally {
            Kernel.close(device);
            if (received >= 0) {
                remote.raw(Sys.SYS_CLOSE, received);
            }
            if (pair != null) {
                remote.raw(Sys.SYS_CLOSE, pair[0]);
                remote.raw(Sys.SYS_CLOSE, pair[1]);
            }
        }
    }

    private void write(ByteBuffer b, long scratch, int length) throws SysException {
        b.position(0);
        Kernel.writeMemory(vessel, scratch, b, length);
    }
}
