package io.telefork.node;

import io.telefork.api.v1alpha1.ImageStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ImageStoreTest {

    static final String NAME = "default_c_0f1e2d3c-0000-4000-8000-000000000001.tfimg";

    @Test
    void writesOwnerOnlyFilesAtomically(@TempDir Path tmp) throws Exception {
        ImageStore store = new ImageStore(tmp.resolve("images"), Optional.of(tmp.resolve("shared")));
        store.init();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tmp.resolve("images")))).isEqualTo("rwx------");

        byte[] data = new byte[3 << 20];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 31);
        }
        long written;
        try (ImageStore.Writing w = store.create(ImageStorage.NodeLocal, NAME)) {
            w.channel().write(ByteBuffer.wrap(data, 0, 1000));
            w.channel().write(ByteBuffer.wrap(data, 1000, data.length - 1000));
            assertThat(store.path(ImageStorage.NodeLocal, NAME)).doesNotExist();
            written = w.commit();
        }
        Path file = store.path(ImageStorage.NodeLocal, NAME);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(written).isEqualTo(data.length);
        assertThat(file).hasBinaryContent(data);

        try (ImageStore.Writing w = store.create(ImageStorage.Shared, NAME)) {
            w.channel().write(ByteBuffer.wrap(data));
            assertThat(w.commit()).isEqualTo(data.length);
        }
        assertThat(store.path(ImageStorage.Shared, NAME)).hasBinaryContent(data);

        assertThat(store.delete(NAME)).isTrue();
        assertThat(file).doesNotExist();
        assertThat(store.path(ImageStorage.Shared, NAME)).doesNotExist();
    }

    @Test
    void anUnfinishedWriteLeavesNothing(@TempDir Path tmp) throws IOException {
        ImageStore store = new ImageStore(tmp.resolve("images"), Optional.empty());
        store.init();
        try (ImageStore.Writing w = store.create(ImageStorage.NodeLocal, NAME)) {
            w.channel().write(ByteBuffer.wrap(new byte[100]));
        }
        try (var s = Files.list(tmp.resolve("images"))) {
            assertThat(s).isEmpty();
        }
        assertThatThrownBy(() -> store.path(ImageStorage.Shared, NAME)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> store.path(ImageStorage.NodeLocal, "../x")).isInstanceOf(IllegalArgumentException.class);
    }
}
