package io.telefork.sys;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * System calls injected into a tracee many at a time: a table of calls is written into its memory and a
 * small loop there runs them, in order, up to a breakpoint, so a batch costs one resume and one stop
 * instead of one per call. Each ptrace stop waits for the scheduler twice (the tracee's resume, the
 * tracer's wake-up), about a tenth of a millisecond on two cores, and a restore makes dozens.
 *
 * <p>The loop stops at the first failed call unless that call was added with {@link #addRaw}; what ran
 * before it stays done. Only for tracees that die with their tracer ({@link Ptrace#O_EXITKILL}): a
 * tracer that died while the loop ran would leave the process to its breakpoint, and SIGTRAP.
 *
 * <p>The batch works in an {@link Area} of the tracee: a code page made read+execute (never writable
 * and executable at once), a table page and a data page for what calls point at ({@link #put}). Where the
 * code page cannot be made executable (a W^X policy, a seccomp filter), the same calls run one by one
 * through {@link Remote#raw}: slower, same results.
 */
public final class CallBatch {
    private static final int PAGE = (int) Sys.PAGE;
    /** Bytes of tracee memory an {@link Area} takes: code, table, data. */
    public static final int AREA_BYTES = 3 * PAGE;

    private static final int ENTRY = 64;
    private static final int CAPACITY = PAGE / ENTRY;
    private static final long MAY_FAIL = 1L << 32;

    /**
     * The loop, position-independent; r12 points at the first entry, r13 past the last. An entry is
     * {nr | MAY_FAIL, six arguments, result}:
     * <pre>
     * next: cmp r12, r13 ; jae done
     *       mov rax, [r12] ; mov rdi..r9, [r12+8..48] ; mov r14, rax ; mov eax, eax
     *       syscall
     *       mov [r12+56], rax ; add r12, 64
     *       cmp rax, -4095 ; jb next          (not an error)
     *       bt r14, 32 ; jc next               (may fail)
     * done: int3
     * </pre>
     */
    private static final byte[] CODE = {
        0x4d, 0x39, (byte) 0xec, 0x73, 0x41, 0x49, (byte) 0x8b, 0x04, 0x24, 0x49, (byte) 0x8b, 0x7c, 0x24, 0x08,
        0x49, (byte) 0x8b, 0x74, 0x24, 0x10, 0x49, (byte) 0x8b, 0x54, 0x24, 0x18, 0x4d, (byte) 0x8b, 0x54, 0x24,
        0x20, 0x4d, (byte) 0x8b, 0x44, 0x24, 0x28, 0x4d, (byte) 0x8b, 0x4c, 0x24, 0x30, 0x49, (byte) 0x89,
        (byte) 0xc6, (byte) 0x89, (byte) 0xc0, 0x0f, 0x05, 0x49, (byte) 0x89, 0x44, 0x24, 0x38, 0x49, (byte) 0x83,
        (byte) 0xc4, 0x40, 0x48, 0x3d, 0x01, (byte) 0xf0, (byte) 0xff, (byte) 0xff, 0x72, (byte) 0xc1, 0x49, 0x0f,
        (byte) 0xba, (byte) 0xe6, 0x20, 0x72, (byte) 0xba, (byte) 0xcc,
    };

    /** Where a batch works in the tracee, and whether its loop can run there. */
    public record Area(long address, boolean runs) {
        long table() {
            return address + Sys.PAGE;
        }

        long data() {
            return address + 2L * Sys.PAGE;
        }
    }

    /**
     * Sets up an area at {@code address}, {@link #AREA_BYTES} of the tracee's memory mapped read+write:
     * writes the loop into its first page and makes that page read+execute. A refusal of the latter
     * leaves an area whose batches run call by call.
     */
    public static Area prepare(Remote remote, long address) throws SysException {
        ByteBuffer code = ByteBuffer.allocateDirect(CODE.length).put(CODE).flip();
        if (Kernel.writeMemory(remote.pid(), address, code, CODE.length) != CODE.length) {
            throw new SysException("short write of the call loop into process " + remote.pid());
        }
        long r = remote.raw(Sys.SYS_MPROTECT, address, Sys.PAGE, Sys.PROT_READ | Sys.PROT_EXEC);
        return new Area(address, r == 0);
    }

    private final Remote remote;
    private final Area area;
    private final ByteBuffer table = ByteBuffer.allocateDirect(PAGE).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer data = ByteBuffer.allocateDirect(PAGE).order(ByteOrder.LITTLE_ENDIAN);
    private final List<String> names = new ArrayList<>();
    private long[] results = new long[CAPACITY];
    private int done;
    private boolean dataPending;

    /** A batch for the calls of one tracee (any thread of the process that owns the area). */
    public CallBatch(Remote remote, Area area) {
        this.remote = remote;
        this.area = area;
    }

    /**
     * Copies {@code bytes} (from position to limit) into the data page and returns its address in the
     * tracee, for the call added next: at most one piece per call, put just before the call is added.
     */
    public long put(ByteBuffer bytes) throws SysException {
        int len = bytes.remaining();
        int aligned = (len + 7) & ~7;
        if (aligned > PAGE) {
            throw new IllegalArgumentException("a batch's data page holds " + PAGE + " bytes, not " + len);
        }
        if (dataPending) {
            throw new IllegalStateException("one piece of data per call: add the call before the next put");
        }
        if (names.size() - done == CAPACITY || data.position() + aligned > PAGE) {
            flush();
        }
        long at = area.data() + data.position();
        data.put(bytes.duplicate());
        data.position(data.position() + aligned - len);
        dataPending = true;
        return at;
    }

    /** Adds a call whose failure ends the batch: {@link #run} throws a SysException naming {@code what}. */
    public int add(String what, int nr, long... args) throws SysException {
        return add(what, nr, false, args);
    }

    /** Adds a call that may fail; its result is the negative errno then, and the batch goes on. */
    public int addRaw(int nr, long... args) throws SysException {
        return add("system call " + nr, nr, true, args);
    }

    private int add(String what, int nr, boolean mayFail, long[] args) throws SysException {
        if (args.length > 6) {
            throw new IllegalArgumentException("a system call takes at most 6 arguments");
        }
        if (names.size() - done == CAPACITY) {
            if (dataPending) {
                throw new IllegalStateException("put() ran out of table for its call");
            }
            flush();
        }
        dataPending = false;
        table.putLong(nr | (mayFail ? MAY_FAIL : 0));
        for (int i = 0; i < 6; i++) {
            table.putLong(i < args.length ? args[i] : 0);
        }
        table.putLong(0);
        names.add(what);
        return names.size() - 1;
    }

    /** Runs every call added and not yet run; returns the results of every call of this batch, by index. */
    public long[] run() throws SysException {
        flush();
        return Arrays.copyOf(results, names.size());
    }

    private void flush() throws SysException {
        int count = names.size() - done;
        if (count == 0) {
            return;
        }
        if (results.length < names.size()) {
            results = Arrays.copyOf(results, Math.max(names.size(), results.length * 2));
        }
        int dataBytes = data.position();
        if (dataBytes > 0) {
            write(area.data(), data, dataBytes);
        }
        if (area.runs()) {
            write(area.table(), table, count * ENTRY);
            remote.runCode(area.address(), CODE.length, area.table(), area.table() + (long) count * ENTRY);
            ByteBuffer back = ByteBuffer.allocateDirect(count * ENTRY).order(ByteOrder.LITTLE_ENDIAN);
            if (Kernel.readMemory(remote.pid(), area.table(), back, count * ENTRY) != count * ENTRY) {
                throw new SysException("short read of a call table from process " + remote.pid());
            }
            for (int i = 0; i < count; i++) {
                results[done + i] = back.getLong(i * ENTRY + 56);
            }
        } else {
            for (int i = 0; i < count; i++) {
                long[] args = new long[6];
                for (int k = 0; k < 6; k++) {
                    args[k] = table.getLong(i * ENTRY + 8 + 8 * k);
                }
                results[done + i] = remote.raw((int) table.getLong(i * ENTRY), args);
                if (failed(i, results[done + i])) {
                    break;
                }
            }
        }
        int first = done;
        done = names.size();
        for (int i = 0; i < count; i++) {
            if (failed(i, results[first + i])) {
                throw new SysException(names.get(first + i) + " in process " + remote.pid(),
                        (int) -results[first + i]);
            }
        }
        table.clear();
        data.clear();
    }

    private boolean failed(int entry, long result) {
        return result < 0 && result > -4096 && (table.getLong(entry * ENTRY) & MAY_FAIL) == 0;
    }

    private void write(long at, ByteBuffer from, int len) throws SysException {
        ByteBuffer b = from.duplicate().position(0).limit(len);
        if (Kernel.writeMemory(remote.pid(), at, b, len) != len) {
            throw new SysException("short write into process " + remote.pid() + " at 0x" + Long.toHexString(at));
        }
    }
}
