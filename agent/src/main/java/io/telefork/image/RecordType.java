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
    /** Since version 2: the files without a name (deleted, memfd), between FILES and AREAS. */
    GHOSTS(9),
    /** Since version 2: their content, right after AREAS. */
    GHOST_DATA(10);

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
