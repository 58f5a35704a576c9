package io.telefork.dump;

import io.telefork.sys.Kernel;
import io.telefork.sys.SysException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reads a stopped process's memory: process_vm_readv for readable areas (fast), /proc/PID/mem for the
 * pages process_vm_readv cannot reach (PROT_NONE, execute-only).
 */
final class ProcessMemory implements MemorySource, AutoCloseable {
    private final int pid;
    private final Path memPath;
    private FileChannel mem;

    ProcessMemory(int pid, Path procDir) {
        this.pid = pid;
        this.memPath = procDir.resolve("mem");
    }

    @Override
    public void read(long address, ByteBuffer dst, int length, boolean readable) throws IOException {
        if (readable) {
            try {
                long n = Kernel.readMemory(pid, address, dst, length);
                if (n == length) {
                    return;
                }
            } catch (SysException e) {
                // fall through to /proc/PID/mem, which also reaches pages the protections forbid
            }
        }
        if (mem == null) {
            mem = FileChannel.open(memPath, StandardOpenOption.READ);
        }
        ByteBuffer view = dst.duplicate();
        view.limit(view.position() + length);
        long pos = address;
        while (view.hasRemaining()) {
            int n = mem.read(view, pos);
            if (n <= 0) {
                throw new IOException(String.format("cannot read memory at 0x%x of process %d", pos, pid));
            }
            pos += n;
        }
    }

    @Override
    public void close() throws IOException {
        if (mem != null) {
            mem.close();
        }
    }
}
