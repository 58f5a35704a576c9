package io.telefork.dump;

import io.telefork.engine.EngineException;
import io.telefork.engine.EngineException.Reason;
import io.telefork.image.FileId;
import io.telefork.image.GhostFile;
import io.telefork.image.ImageWriter;
import io.telefork.image.RecordType;
import io.telefork.proc.FileIds;
import io.telefork.sys.Kernel;
import io.telefork.sys.SysException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The files of a process that have no name left: regular files deleted while open or mapped, and memfds.
 * Each is recorded once however many descriptors and mappings lead to it, and its content is copied into
 * the image while the process is frozen, up to a size limit the user chooses (0 by default: an image
 * does not silently grow by the size of a forgotten temporary file).
 */
final class Ghosts {
    static final String DELETED = " (deleted)";
    private static final String MEMFD = "/memfd:";

    private final int pid;
    private final long limit;
    private final List<GhostFile> files = new ArrayList<>();
    /** Per file, the /proc link its content is read through. */
    private final List<Path> sources = new ArrayList<>();

    Ghosts(int pid, long limit) {
        this.pid = pid;
        this.limit = limit;
    }

    /** Whether a name from /proc (an fd's link, a mapping's path) is that of a file without a name. */
    static boolean isGhost(String name) {
        return name.startsWith("/") && name.endsWith(DELETED);
    }

    /**
     * Records the regular file behind {@code link} (/proc/PID/fd/N or /proc/PID/map_files/A-B), whose
     * name /proc showed as {@code name}, and returns its identity. {@code holder} says how the process
     * holds it, for errors: "fd 3 open on", "memory area 7f..-7f.. mapping".
     */
    FileId add(Path link, String name, String holder) throws IOException, EngineException {
        FileId id = FileIds.stat(link);
        for (GhostFile g : files) {
            if (g.is(id)) {
                return g.file();
            }
        }
        boolean memfd = name.startsWith(MEMFD);
        String what = "process " + pid + " has " + holder + " " + name + ", a " + (memfd ? "memfd" : "deleted file");
        if (!memfd && (Integer) Files.getAttribute(link, "unix:nlink") != 0) {
            // Gone from this path but linked elsewhere: a copy would part from the file other processes see.
            throw new EngineException(Reason.UNSUPPORTED, what + " that is still linked under another name; "
                    + "not supported yet");
        }
        if (id.size() > limit) {
            throw new EngineException(Reason.UNSUPPORTED, what + " of " + id.size() + " bytes; the content of deleted "
                    + "files and memfds is saved in the image up to --ghost-limit (now " + limit + " bytes): dump with "
                    + "--ghost-limit " + roundedUp(id.size()) + " or more");
        }
        int seals;
        try {
            seals = memfd ? Kernel.seals(link.toString()) : 0;
        } catch (SysException e) {
            throw new EngineException(Reason.SYSTEM, what + " whose seals cannot be read: " + e.getMessage(), e);
        }
        int uid = (Integer) Files.getAttribute(link, "unix:uid");
        int gid = (Integer) Files.getAttribute(link, "unix:gid");
        files.add(new GhostFile(memfd ? GhostFile.Kind.MEMFD : GhostFile.Kind.DELETED_FILE,
                name.substring(0, name.length() - DELETED.length()), id, uid, gid, seals));
        sources.add(link);
        return id;
    }

    List<GhostFile> files() {
        return List.copyOf(files);
    }

    /**
     * Writes every file's content as GHOST_DATA records, exactly {@link GhostFile#chunks()} per file, in
     * the order of {@link #files()}. Read while the process is frozen, so it is the content at the dump;
     * all-zero chunks (holes, mostly) are written without their bytes.
     */
    long writeContent(ImageWriter writer) throws IOException {
        long bytes = 0;
        ByteBuffer buf = ByteBuffer.allocate(GhostFile.CHUNK);
        for (int i = 0; i < files.size(); i++) {
            long size = files.get(i).file().size();
            try (FileChannel in = FileChannel.open(sources.get(i), StandardOpenOption.READ)) {
                for (long off = 0; off < size; off += GhostFile.CHUNK) {
                    int length = (int) Math.min(GhostFile.CHUNK, size - off);
                    buf.clear().limit(length);
                    while (buf.hasRemaining() && in.read(buf, off + buf.position()) > 0) {
                        // a short read is retried until end of file; past it the bytes stay zero
                    }
                    byte[] data = new byte[length];
                    System.arraycopy(buf.array(), 0, data, 0, buf.position());
                    boolean zero = isZero(data);
                    writer.writeRecord(RecordType.GHOST_DATA,
                            new GhostFile.Chunk(i, off, length, zero ? new byte[0] : data).encode());
                    bytes += zero ? 0 : length;
                }
            }
        }
        return bytes;
    }

    private static boolean isZero(byte[] data) {
        for (byte b : data) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    /** A size as the user would type it to --ghost-limit, not below {@code bytes}: 5000 -> 5K, 3145729 -> 4M. */
    static String roundedUp(long bytes) {
        long k = 1024;
        if (bytes <= 1024 * k) {
            return ((bytes + k - 1) / k) + "K";
        }
        long m = k * k;
        return ((bytes + m - 1) / m) + "M";
    }
}
