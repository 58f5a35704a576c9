package io.telefork.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The image's writing thread: bytes in order whatever their size, and what a failed write does. */
class WritePipelineTest {

    @Test
    void smallAndLargePiecesComeOutInOrder() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        Random random = new Random(1);
        AtomicInteger returned = new AtomicInteger();
        try (WritePipeline p = new WritePipeline(Channels.newChannel(out))) {
            for (int i = 0; i < 200; i++) {
                byte[] b = new byte[random.nextInt(3) == 0 ? WritePipeline.SMALL + random.nextInt(100_000) : random.nextInt(100)];
                random.nextBytes(b);
                expected.write(b);
                switch (i % 3) {
                    case 0 -> p.copy(ByteBuffer.wrap(b));
                    case 1 -> p.owned(ByteBuffer.wrap(b));
                    default -> p.lent(ByteBuffer.allocateDirect(b.length).put(b).flip(), returned::incrementAndGet);
                }
                if (i % 17 == 0) {
                    p.flush();
                }
            }
            p.drain();
        }
        assertThat(out.toByteArray()).isEqualTo(expected.toByteArray());
        assertThat(returned.get()).as("lent buffers given back").isEqualTo(66);
    }

    @Test
    void aFailedWriteFailsTheNextCallsAndLentBuffersStillComeBack() throws IOException {
        AtomicInteger returned = new AtomicInteger();
        WritableByteChannel full = new WritableByteChannel() {
            @Override
            public int write(ByteBuffer src) throws IOException {
                throw new IOException("No space left on device");
            }

            @Override
            public boolean isOpen() {
                return true;
            }

            @Override
            public void close() {
            }
        };
        try (WritePipeline p = new WritePipeline(full)) {
            p.lent(ByteBuffer.allocateDirect(4096), returned::incrementAndGet);
            assertThatThrownBy(p::drain).isInstanceOf(IOException.class).hasMessageContaining("No space left on device");
            assertThatThrownBy(() -> p.lent(ByteBuffer.allocateDirect(4096), returned::incrementAndGet))
                    .hasMessageContaining("No space left on device");
        }
        assertThat(returned.get()).as("both buffers back in their pool").isEqualTo(2);
    }
}
