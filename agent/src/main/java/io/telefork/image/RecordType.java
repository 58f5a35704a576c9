package io.telefork.image;

/** The kinds of record an image is made of, in the order a writer emits them. */
public enum RecordType {
    PROCESS(1),
    THREAD(2),
    SIGNALS(3),
    FILES(4),
    AREAS(5),
    PAGES(6),
    INDEX(7),
    END(8);

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
