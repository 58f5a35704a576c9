package io.telefork.image;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** Writes the fields of a metadata record, big-endian; strings and byte arrays carry their length. */
public final class Encoder {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
    private final DataOutputStream out = new DataOutputStream(bytes);

    public Encoder u8(int v) {
        return run(() -> out.writeByte(v));
    }

    public Encoder bool(boolean v) {
        return u8(v ? 1 : 0);
    }

    public Encoder i32(int v) {
        return run(() -> out.writeInt(v));
    }

    public Encoder i64(long v) {
        return run(() -> out.writeLong(v));
    }

    public Encoder bytes(byte[] v) {
        return run(() -> {
            out.writeInt(v.length);
            out.write(v);
        });
    }

    public Encoder string(String v) {
        return bytes(v.getBytes(StandardCharsets.UTF_8));
    }

    public Encoder strings(List<String> v) {
        i32(v.size());
        v.forEach(this::string);
        return this;
    }

    public Encoder longs(long[] v) {
        i32(v.length);
        for (long l : v) {
            i64(l);
        }
        return this;
    }

    public byte[] toByteArray() {
        return bytes.toByteArray();
    }

    private Encoder run(IoAction action) {
        try {
            action.run();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return this;
    }

    private interface IoAction {
        void run() throws IOException;
    }
}
