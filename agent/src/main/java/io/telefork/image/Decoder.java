package io.telefork.image;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Reads what {@link Encoder} wrote; any overrun is a format error, never an unchecked exception. */
public final class Decoder {
    private final ByteBuffer in;

    public Decoder(byte[] payload) {
        this.in = ByteBuffer.wrap(payload);
    }

    public int u8() throws ImageFormatException {
        return guard(() -> in.get() & 0xff);
    }

    public boolean bool() throws ImageFormatException {
        return u8() != 0;
    }

    public int i32() throws ImageFormatException {
        return guard(in::getInt);
    }

    public long i64() throws ImageFormatException {
        return guard(in::getLong);
    }

    public byte[] bytes() throws ImageFormatException {
        int n = count(1);
        byte[] b = new byte[n];
        guard(() -> in.get(b));
        return b;
    }

    public String string() throws ImageFormatException {
        return new String(bytes(), StandardCharsets.UTF_8);
    }

    public List<String> strings() throws ImageFormatException {
        int n = count(4);
        List<String> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(string());
        }
        return list;
    }

    public long[] longs() throws ImageFormatException {
        int n = count(8);
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = i64();
        }
        return v;
    }

    /** Reads an element count and checks that that many elements of at least minSize can follow. */
    public int count(int minSize) throws ImageFormatException {
        int n = i32();
        if (n < 0 || (long) n * minSize > in.remaining()) {
            throw new ImageFormatException("record claims " + n + " elements, more than it holds");
        }
        return n;
    }

    public void expectEnd() throws ImageFormatException {
        if (in.hasRemaining()) {
            throw new ImageFormatException("record has " + in.remaining() + " unexpected trailing bytes");
        }
    }

    private <T> T guard(java.util.function.Supplier<T> read) throws ImageFormatException {
        try {
            return read.get();
        } catch (BufferUnderflowException e) {
            throw new ImageFormatException("record ends early");
        }
    }
}
