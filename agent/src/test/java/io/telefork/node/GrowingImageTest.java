package io.telefork.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.telefork.image.ImageReader;
import io.telefork.image.ImageWriter;
import io.telefork.image.RecordType;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A post-copy restore's view of an image file while its dump writes it (real files, a writer thread). */
class GrowingImageTest {
    @TempDir
    Path dir;

    /** Writes an image of {@code runs} page runs into {@code partial}, slowly, then renames it into place. */
    private CompletableFuture<Void> writeSlowly(Path partial, Path complete, int runs, boolean fail) {
        return CompletableFuture.runAsync(() -> {
            try (FileChannel f = FileChannel.open(partial, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                WritableByteChannel slow = new WritableByteChannel() {
                    @Override
                    public int write(ByteBuffer src) throws IOException {
                        int n = f.write(src);
                        try {
                            Thread.sleep(2);
                        } catch (InterruptedException e) {
                            throw new IOException(e);
                        }
                        return n;
                    }

                    @Override
                    public boolean isOpen() {
                        return f.isOpen();
                    }

                    @Override
                    public void close() {
                    }
                };
                ImageWriter w = new ImageWriter(slow, io.telefork.image.Compression.NONE);
                w.writeHeader();
                for (int i = 0; i < runs; i++) {
                    ByteBuffer page = ByteBuffer.allocateDirect(4096);
                    page.put(0, (byte) (i + 1));
                    w.writePages(0x100000L + i * 0x10000L, page);
                }
                if (fail) {
                    Thread.sleep(100); // the runs are written on the writer's own thread meanwhile
                    w.close();
                    Files.delete(partial); // as a failed dump does
                    return;
                }
                w.finish();
                w.close();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            try {
                Files.move(partial, complete, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    @Test
    void readsTheWholeImageAsItIsWrittenAndRenamed() throws Exception {
        Path complete = dir.resolve("img.tfimg");
        Path partial = ImageStore.partial(complete);
        CompletableFuture<GrowingImage> opened = CompletableFuture.supplyAsync(() -> {
            try {
                return GrowingImage.open(partial, complete, Duration.ofSeconds(10), Duration.ofSeconds(10));
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Thread.sleep(100); // the reader waits for the file to appear
        CompletableFuture<Void> writer = writeSlowly(partial, complete, 100, false);
        int pages = 0;
        try (GrowingImage in = opened.get(); ImageReader reader = new ImageReader(in)) {
            ImageReader.Record r;
            while ((r = reader.next()) != null) {
                if (r.type() == RecordType.PAGES) {
                    assertThat(r.pages().get(0)).isEqualTo((byte) (pages + 1));
                    pages++;
                }
            }
            assertThat(reader.end()).as("END reached, SHA-256 verified").isNotNull();
        }
        writer.get();
        assertThat(pages).isEqualTo(100);
        assertThat(complete).exists();
    }

    @Test
    void aDeletedImageEndsTheStreamWithAnError() throws Exception {
        Path complete = dir.resolve("img.tfimg");
        Path partial = ImageStore.partial(complete);
        CompletableFuture<Void> writer = writeSlowly(partial, complete, 20, true);
        try (GrowingImage in = GrowingImage.open(partial, complete, Duration.ofSeconds(10), Duration.ofSeconds(10));
             InputStream s = Channels.newInputStream(in)) {
            assertThatThrownBy(() -> s.readAllBytes()).isInstanceOf(IOException.class)
                    .hasMessageContaining("file was deleted");
        }
        writer.get();
    }

    @Test
    void anImageThatNeverAppearsIsReported() {
        Path complete = dir.resolve("never.tfimg");
        assertThatThrownBy(() -> GrowingImage.open(ImageStore.partial(complete), complete, Duration.ofMillis(200),
                Duration.ofSeconds(1))).isInstanceOf(java.nio.file.NoSuchFileException.class)
                .hasMessageContaining("did not appear");
    }

    @Test
    void anImageThatStopsGrowingIsReported() throws Exception {
        Path complete = dir.resolve("img.tfimg");
        Path partial = ImageStore.partial(complete);
        Files.write(partial, new byte[100]);
        try (GrowingImage in = GrowingImage.open(partial, complete, Duration.ofSeconds(1), Duration.ofMillis(300))) {
            ByteBuffer b = ByteBuffer.allocate(200);
            assertThat(in.read(b)).isEqualTo(100);
            assertThatThrownBy(() -> in.read(b)).isInstanceOf(IOException.class).hasMessageContaining("wrote nothing");
        }
    }
}
