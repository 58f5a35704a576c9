package io.telefork.cli;


import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/** Small helpers shared by the commands. */
final class Cli {
    private Cli() {
    }

    /** Hides that a channel is a FileChannel, so the engine treats it as the stream it is (stdin, stdout). */
    static WritableByteChannel writeStream(WritableByteChannel c) {
        return new WritableByteChannel() {
            @Override
            public int write(ByteBuffer src) throws IOException {
                return c.write(src);
            }

            @Override
            public boolean isOpen() {
                return c.isOpen();
            }

            @Override
            public void close() throws IOException {
                c.close();
            }
        };
    }

    static ReadableByteChannel readStream(ReadableByteChannel c) {
        return new ReadableByteChannel() {
            @Override
            public int read(ByteBuffer dst) throws IOException {
                return c.read(dst);
            }

            @Override
            public boolean isOpen() {
                return c.isOpen();
            }

            @Override
            public void close() throws IOException {
                c.close();
            }
        };
    }
}
