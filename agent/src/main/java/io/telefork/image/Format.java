package io.telefork.image;

import java.nio.charset.StandardCharsets;

/** Constants of the stream layout described in FORMAT.md. */
public final class Format {
    public static final byte[] MAGIC = "TELEFORK".getBytes(StandardCharsets.US_ASCII);
    /**
     * Bumped on any incompatible change; readers refuse newer versions. 2 added the TREE, PAGES_OF, GHOSTS
     * and GHOST_DATA records and the GHOST kinds of descriptors and areas; 3 the LAZY record, before which
     * come the pages that a lazy restore writes before the processes run; 4 the END digest of the record
     * headers instead of every byte ({@link ImageHash}). Versions 1 to 3 are still read.
     */
    public static final int VERSION = 4;
    /** The first version that holds a TREE record (a process and its descendants). */
    public static final int FIRST_TREE_VERSION = 2;
    /** The first version whose pages are ordered for a lazy restore from a stream (the LAZY record). */
    public static final int FIRST_LAZY_VERSION = 3;
    /** ELF machine number of x86_64. */
    public static final int ARCH_X86_64 = 62;
    public static final int PAGE_SIZE = 4096;
    /** magic, version u16, arch u16, page size u32, flags u32, then the header's CRC32C. */
    public static final int HEADER_BYTES = 8 + 2 + 2 + 4 + 4 + 4;
    /** type u16, codec u8, reserved u8, raw length u32, stored length u32, CRC32C u32. */
    public static final int RECORD_HEADER_BYTES = 16;
    /** The END record, which ends every image: header, then a 32-byte digest as {@code bytes} and an i64. */
    public static final int END_RECORD_BYTES = RECORD_HEADER_BYTES + 4 + 32 + 8;
    /** addr u64 + page count u32 at the start of a PAGES payload. */
    public static final int PAGES_PREFIX_BYTES = 12;
    /** Largest run of pages in one PAGES record (1 MiB): the unit of random access and compression. */
    public static final int MAX_RUN_PAGES = 256;
    /** Upper bound on any metadata record, so a corrupt length cannot make a reader allocate gigabytes. */
    public static final int MAX_METADATA_BYTES = 64 << 20;

    private Format() {
    }
}
