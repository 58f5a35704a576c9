package io.telefork.node;

import io.telefork.api.v1alpha1.ImageFiles;
import io.telefork.api.v1alpha1.ImageStorage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/**
 * The node-local image directory (hostPath, 0700, files 0600) and the shared volume. File names come only
 * from {@link ImageFiles}. Every file is written under a temporary name, synced and renamed, so a reader
 * never sees half an image. What a file must hash to is the image's own digest, in its END record
 * ({@link io.telefork.image.ImageDigest}).
 */
final class ImageStore {

    private final Path localDir;
    private final Optional<Path> sharedDir;

    ImageStore(Path localDir, Optional<Path> sharedDir) {
        this.localDir = localDir;
        this.sharedDir = sharedDir;
    }

    /** Creates the directories with owner-only access. */
    void init() throws IOException {
        for (Path dir : sharedDir.isPresent() ? new Path[] {localDir, sharedDir.get()} : new Path[] {localDir}) {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        }
    }

    boolean hasShared() {
        return sharedDir.isPresent();
    }

    Path path(ImageStorage storage, String fileName) {
        if (fileName.contains("/") || fileName.startsWith(".")) {
            throw new IllegalArgumentException("not an image file name: " + fileName);
        }
        Path dir = storage == ImageStorage.Shared
                ? sharedDir.orElseThrow(() -> new IllegalStateException("no shared volume is mounted on this node"))
                : localDir;
        return dir.resolve(fileName);
    }

    /** A file being written: becomes visible only at {@link #commit()}. */
    final class Writing implements AutoCloseable {
        private final Path target;
        private final Path temp;
        private final FileChannel channel;
        private long bytes;
        private boolean committed;

        private Writing(Path target) throws IOException {
            this.target = target;
            this.temp = partial(target);
            Files.deleteIfExists(temp);
            this.channel = FileChannel.open(temp, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        }

        WritableByteChannel channel() {
            return new WritableByteChannel() {
                @Override
                public int write(ByteBuffer src) throws IOException {
                    int n = 0;
                    while (src.hasRemaining()) {
                        n += channel.write(src);
                    }
                    bytes += n;
                    return n;
                }

                @Override
                public boolean isOpen() {
                    return channel.isOpen();
                }

                @Override
                public void close() {
                    // The engine may close its output; the file is finished by commit().
                }
            };
        }

        /** Syncs, renames into place and returns the size of what was written. */
        long commit() throws IOException {
            channel.force(true);
            channel.close();
            move(temp, target);
            committed = true;
            return bytes;
        }

        @Override
        public void close() throws IOException {
            if (!committed) {
                channel.close();
                Files.deleteIfExists(temp);
            }
        }
    }

    Writing create(ImageStorage storage, String fileName) throws IOException {
        return new Writing(path(storage, fileName));
    }

    /**
     * Deletes a checkpoint's files from both places, and what an interrupted write left of them
     * (".NAME.partial"); true if anything was there.
     */
    boolean delete(String fileName) throws IOException {
        boolean any = false;
        for (ImageStorage where : sharedDir.isPresent() ? ImageStorage.values() : new ImageStorage[] {ImageStorage.NodeLocal}) {
            Path file = path(where, fileName);
            any |= Files.deleteIfExists(file);
            any |= Files.deleteIfExists(partial(file));
        }
        return any;
    }

    /** Where the file that becomes {@code target} is written until it is complete (".NAME.partial"). */
    static Path partial(Path target) {
        return target.resolveSibling("." + target.getFileName() + ".partial");
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
