package io.telefork.image;

/** The kinds of record an image is made of (FORMAT.md gives the order a writer emits them in). */
public enum RecordType {
    PROCESS(1),
    THREAD(2),
    SIGNALS(3),
    FILES(4),
    AREAS(5),
    PAGES(6),
    INDEX(7),
    END(8),
    /** The processes of the image and how they relate (format 2). */
    TREE(9),
    /** The PAGES records that follow belong to this process (format 2). */
    PAGES_OF(10),
    /** Format 2: per process, the files without a name (deleted, memfd), between FILES and AREAS. */
    GHOSTS(11),
    /** Format 2: their content, right after that process's AREAS. */
    GHOST_DATA(12),
    /**
     * Format 3: every page a lazy restore writes before the processes run comes before it; the pages of
     * the lazily filled areas come after it, and it lists which (a {@link LazyPlan}).
     */
    LAZY(13);

    private final int id;

    RecordType(int id) {
        this.id = id;
    }

    public int id() {
        return id;
    }

    static RecordType fromId(int id) throws ImageFormatException {
        for (RecordType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        throw new ImageFormatException("unknown record type " + id);
    }
}
