package io.telefork.image;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The metadata at the front of an image: the tree, and the head (PROCESS, THREAD..., SIGNALS, FILES,
 * AREAS) of each live member in tree order. Format 1 images hold one head and no TREE record.
 */
public record ImageTree(ProcessTree tree, List<ImageHead> heads) {

    /** The process the dump was asked for. */
    public ImageHead root() {
        return heads.get(0);
    }

    public ImageHead head(int pid) {
        for (ImageHead h : heads) {
            if (h.process().pid() == pid) {
                return h;
            }
        }
        return null;
    }

    public boolean single() {
        return tree.members().size() == 1;
    }

    /** Reads the metadata from a fresh reader, leaving it at the first record after the last head. */
    public static ImageTree read(ImageReader reader) throws IOException {
        ImageReader.Record first = reader.next();
        if (reader.version() < Format.FIRST_TREE_VERSION) {
            ImageHead head = ImageHead.read(reader, first);
            return new ImageTree(ProcessTree.single(head.process()), List.of(head));
        }
        ProcessTree tree = ProcessTree.decode(ImageHead.expect(first, reader, RecordType.TREE));
        List<ImageHead> heads = new ArrayList<>();
        for (ProcessTree.Member m : tree.members()) {
            if (m.zombie()) {
                continue;
            }
            ImageHead h = ImageHead.read(reader);
            if (h.process().pid() != m.pid()) {
                throw new ImageFormatException("the PROCESS record of " + h.process().pid() + " stands where the TREE "
                        + "record has process " + m.pid());
            }
            heads.add(h);
        }
        return new ImageTree(tree, List.copyOf(heads));
    }
}
