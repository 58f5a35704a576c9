package io.telefork.image;

import java.util.ArrayList;
import java.util.List;

/**
 * A file the process holds or maps that no longer has a name: a regular file deleted while open, or a
 * memfd. Its content travels in the image (GHOST_DATA records, one per {@link #CHUNK} bytes, right after
 * the AREAS record), since there is nothing to reopen. Descriptors ({@link FdEntry.Kind#GHOST}) and
 * memory areas ({@link MemoryArea.Kind#GHOST_PRIVATE}, {@link MemoryArea.Kind#GHOST_SHARED}) refer to it by
 * the device and inode of their {@link FileId}: several of them on one file share one copy.
 *
 * @param kind  a deleted file or a memfd
 * @param path  for a deleted file, the path it had (its directory is where it is re-created); for a memfd,
 *              its name as /proc shows it ("/memfd:NAME"); without the " (deleted)" suffix
 * @param file  device, inode, size, mtime and mode when dumped
 * @param uid   owner
 * @param gid   group
 * @param seals F_GET_SEALS of a memfd (F_SEAL_SEAL alone when sealing was never allowed); 0 for a file
 */
public record GhostFile(Kind kind, String path, FileId file, int uid, int gid, int seals) {

    /** Content bytes per GHOST_DATA record. */
    public static final int CHUNK = 1 << 20;

    public enum Kind {
        /** A regular file deleted while open (or mapped): re-created unlinked in the same directory. */
        DELETED_FILE,
        /** memfd_create: re-created with the same name. */
        MEMFD
    }

    /** How many GHOST_DATA records carry the content: one per started {@link #CHUNK}. */
    public long chunks() {
        return (file.size() + CHUNK - 1) / CHUNK;
    }

    /** Whether {@code id} (an fd's or an area's) is this file. */
    public boolean is(FileId id) {
        return id.dev() == file.dev() && id.ino() == file.ino();
    }

    public static byte[] encodeAll(List<GhostFile> ghosts) {
        Encoder e = new Encoder().i32(ghosts.size());
        for (GhostFile g : ghosts) {
            e.u8(g.kind.ordinal()).string(g.path);
            g.file.encode(e);
            e.i32(g.uid).i32(g.gid).i32(g.seals);
        }
        return e.toByteArray();
    }

    public static List<GhostFile> decodeAll(byte[] payload) throws ImageFormatException {
        Decoder d = new Decoder(payload);
        int n = d.count(4);
        List<GhostFile> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int kind = d.u8();
            if (kind >= Kind.values().length) {
                throw new ImageFormatException("unknown ghost file kind " + kind);
            }
            GhostFile g = new GhostFile(Kind.values()[kind], d.string(), FileId.decode(d), d.i32(), d.i32(), d.i32());
            if (g.file.size() < 0) {
                throw new ImageFormatException("ghost file " + g.path + " has a negative size");
            }
            out.add(g);
        }
        d.expectEnd();
        return out;
    }

    /**
     * One GHOST_DATA record: {@code length} bytes of ghost file {@code index} (its place in the GHOSTS
     * record) at {@code offset}. {@code data} is empty when those bytes are all zero (the re-created file
     * is sized first, so a hole needs no bytes), else exactly {@code length} bytes.
     */
    public record Chunk(int index, long offset, int length, byte[] data) {

        public byte[] encode() {
            return new Encoder().i32(index).i64(offset).i32(length).bytes(data).toByteArray();
        }

        public static Chunk decode(byte[] payload) throws ImageFormatException {
            Decoder d = new Decoder(payload);
            Chunk c = new Chunk(d.i32(), d.i64(), d.i32(), d.bytes());
            d.expectEnd();
            if (c.length < 0 || c.length > CHUNK || c.offset < 0 || (c.data.length != 0 && c.data.length != c.length)) {
                throw new ImageFormatException("ghost file data record with implausible lengths");
            }
            return c;
        }
    }
}
