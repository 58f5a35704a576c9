package io.telefork.image;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;

/**
 * An image file mapped read-only, so that its records can be used where they lie in the page cache
 * instead of being copied into buffers first (a lazy restore copies pages from here straight into the
 * process). A MappedByteBuffer holds at most 2 GiB, so the file is mapped in windows of 1 GiB that
 * overlap by more than the largest record: any record lies whole in the window of its first byte.
 * The windows are unmapped by {@link #close()}, not left to the garbage collector (the pages of a
 * deleted image would stay allocated until then); nothing may touch a view after that.
 *
 * <p>The file must not shrink while it is mapped: reading a page past its new end would kill this JVM
 * with SIGBUS (a pread would only have failed). Images are written once and then only read.
 */
final class MappedImage implements AutoCloseable {
    private static final long STEP = 1L << 30;
    /** More than a record: header, largest PAGES payload and the slack a codec may add. */
    private static final int SPAN = 2 << 20;

    private final MappedByteBuffer[] windows;
    private final long size;

    MappedImage(FileChannel file) throws IOException {
        size = file.size();
        int n = (int) Math.max(1, (size + STEP - 1) / STEP);
        windows = new MappedByteBuffer[n];
        try {
            for (int k = 0; k < n; k++) {
                long at = k * STEP;
                windows[k] = file.map(FileChannel.MapMode.READ_ONLY, at, Math.min(size - at, STEP + SPAN));
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    long size() {
        return size;
    }

    /** A view of {@code length <= SPAN} bytes at {@code at}, or null if the file ends before them. */
    ByteBuffer view(long at, int length) {
        if (length > SPAN || at < 0 || at + length > size) {
            return null;
        }
        int k = (int) (at / STEP);
        int from = (int) (at - k * STEP);
        return windows[k].slice(from, length);
    }

    @Override
    public void close() {
        for (int k = 0; k < windows.length; k++) {
            if (windows[k] != null) {
                unmap(windows[k]);
                windows[k] = null;
            }
        }
    }

    private static final Object UNSAFE;
    private static final Method INVOKE_CLEANER;

    static {
        Object unsafe = null;
        Method cleaner = null;
        try {
            Class<?> c = Class.forName("sun.misc.Unsafe");
            Field f = c.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            unsafe = f.get(null);
            cleaner = c.getMethod("invokeCleaner", ByteBuffer.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // left to the garbage collector
        }
        UNSAFE = unsafe;
        INVOKE_CLEANER = cleaner;
    }

    private static void unmap(MappedByteBuffer b) {
        if (INVOKE_CLEANER == null) {
            return;
        }
        try {
            INVOKE_CLEANER.invoke(UNSAFE, b);
        } catch (ReflectiveOperationException e) {
            // left to the garbage collector
        }
    }
}
