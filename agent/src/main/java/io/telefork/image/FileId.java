package io.telefork.image;

/**
 * Identity and state of a file when it was dumped, to tell at restore whether it is still the same
 * file: device, inode, size, modification time and mode (type and permission bits).
 */
public record FileId(long dev, long ino, long size, long mtimeNanos, int mode) {

    public static final int S_IFMT = 0170000;
    public static final int S_IFREG = 0100000;
    public static final int S_IFDIR = 0040000;
    public static final int S_IFCHR = 0020000;
    public static final int S_IFIFO = 0010000;

    public boolean isRegular() {
        return (mode & S_IFMT) == S_IFREG;
    }

    /** Same content as far as metadata can tell: size and mtime. Device and inode differ across nodes. */
    public boolean sameContentAs(FileId other) {
        return size == other.size && mtimeNanos == other.mtimeNanos;
    }

    void encode(Encoder e) {
        e.i64(dev).i64(ino).i64(size).i64(mtimeNanos).i32(mode);
    }

    static FileId decode(Decoder d) throws ImageFormatException {
        return new FileId(d.i64(), d.i64(), d.i64(), d.i64(), d.i32());
    }
}
