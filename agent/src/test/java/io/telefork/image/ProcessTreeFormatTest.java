package io.telefork.image;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Format 2: a TREE record, one head per live process, pages per process; and format 1 images still read. */
class ProcessTreeFormatTest {
    private static final int PAGE = Format.PAGE_SIZE;
    private static final FileId NONE = new FileId(0, 0, 0, 0, 0);

    @Test
    void treeRoundTripsWithPagesPerProcess() throws IOException {
        ProcessTree tree = new ProcessTree(List.of(
                new ProcessTree.Member(100, 1, 100, 100, false, 0, 17, "parent"),
                new ProcessTree.Member(101, 100, 100, 100, false, 0, 17, "child"),
                new ProcessTree.Member(102, 100, 100, 100, true, 42 << 8, 17, "zombie")),
                List.of(new ProcessTree.Share(101, 1, 100, 1)));
        byte[] image = writeTree(tree);

        ImageReader reader = new ImageReader(Channels.newChannel(new ByteArrayInputStream(image)));
        ImageTree read = ImageTree.read(reader);
        assertThat(read.tree()).isEqualTo(tree);
        assertThat(read.heads()).extracting(h -> h.process().pid()).containsExactly(100, 101);
        assertThat(read.single()).isFalse();
        assertThat(read.tree().share(101, 1)).isEqualTo(new ProcessTree.Share(101, 1, 100, 1));
        List<String> seen = new ArrayList<>();
        int owner = 0;
        PageIndex index = null;
        ImageReader.Record r;
        while ((r = reader.next()) != null) {
            if (r.type() == RecordType.PAGES_OF) {
                owner = new Decoder(r.payload()).i32();
            } else if (r.type() == RecordType.PAGES) {
                seen.add(owner + "@" + Long.toHexString(r.address()) + "=" + r.pages().get(0));
            } else if (r.type() == RecordType.INDEX) {
                index = PageIndex.decode(r.payload(), reader.version());
            }
        }
        assertThat(seen).containsExactly("100@10000=1", "101@10000=2");
        assertThat(index.find(101, 0x10000).pid()).isEqualTo(101);
        assertThat(index.find(101, 0x10000 + PAGE)).isNull();
        assertThat(index.find(100, 0x10000).offset()).isLessThan(index.find(101, 0x10000).offset());
        assertThat(index.find(102, 0x10000)).isNull();
    }

    @Test
    void aTreeListingAChildBeforeItsParentIsRefused() {
        ProcessTree bad = new ProcessTree(List.of(
                new ProcessTree.Member(100, 1, 100, 100, false, 0, 17, "parent"),
                new ProcessTree.Member(102, 101, 100, 100, false, 0, 17, "grandchild"),
                new ProcessTree.Member(101, 100, 100, 100, false, 0, 17, "child")), List.of());
        assertThatThrownBy(() -> ProcessTree.decode(bad.encode())).isInstanceOf(ImageFormatException.class)
                .hasMessageContaining("before its parent");
    }

    /** A format 1 image (no TREE, no PAGES_OF, an index without PIDs) reads as a tree of one process. */
    @Test
    void formatOneImagesStillRead() throws Exception {
        byte[] v2 = writeSingle();
        byte[] v1 = toFormatOne(v2);
        ImageReader reader = new ImageReader(Channels.newChannel(new ByteArrayInputStream(v1)));
        assertThat(reader.version()).isEqualTo(1);
        ImageTree tree = ImageTree.read(reader);
        assertThat(tree.single()).isTrue();
        assertThat(tree.root().process().pid()).isEqualTo(100);
        assertThat(tree.tree().root().pid()).isEqualTo(100);
        PageIndex index = null;
        ImageReader.Record r;
        while ((r = reader.next()) != null) {
            if (r.type() == RecordType.INDEX) {
                index = PageIndex.decode(r.payload(), reader.version());
            }
        }
        assertThat(index.find(0x10000).address()).isEqualTo(0x10000);
        assertThat(reader.end()).isNotNull();
    }

    private static byte[] writeTree(ProcessTree tree) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageWriter w = new ImageWriter(Channels.newChannel(out), Compression.NONE);
        w.writeHeader();
        w.writeRecord(RecordType.TREE, tree.encode());
        for (int pid : new int[] {100, 101}) {
            writeHead(w, pid);
        }
        for (int pid : new int[] {100, 101}) {
            w.beginPagesOf(pid);
            byte[] page = new byte[PAGE];
            Arrays.fill(page, (byte) (pid - 99));
            w.writePages(0x10000, ByteBuffer.wrap(page));
        }
        w.finish();
        return out.toByteArray();
    }

    /** A single process as format 2 writes it, without a TREE record: the frame {@link #toFormatOne} rewrites. */
    private static byte[] writeSingle() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageWriter w = new ImageWriter(Channels.newChannel(out), Compression.NONE);
        w.writeHeader();
        writeHead(w, 100);
        w.writePages(0x10000, ByteBuffer.wrap(new byte[PAGE]));
        w.finish();
        return out.toByteArray();
    }

    private static void writeHead(ImageWriter w, int pid) throws IOException {
        w.writeRecord(RecordType.PROCESS, new ProcessInfo(pid, "p" + pid, List.of("/bin/p"), "/bin/p", NONE, "/", 022,
                false, new long[ProcessInfo.MM_FIELDS], new long[0], new long[0], "6.18", "host", 0,
                new Credentials(new long[4], new long[4], new long[0], new long[5], false, 0), new long[12]).encode());
        w.writeRecord(RecordType.THREAD, new ThreadState(pid, new long[Regs.COUNT], new byte[2432], 0, new long[3],
                new long[3], 0, new long[2], List.of()).encode());
        w.writeRecord(RecordType.SIGNALS, new SignalState(new long[256], List.of()).encode());
        w.writeRecord(RecordType.FILES, FdEntry.encodeAll(List.of()));
        w.writeRecord(RecordType.GHOSTS, GhostFile.encodeAll(List.of()));
        w.writeRecord(RecordType.AREAS, MemoryArea.encodeAll(List.of(
                new MemoryArea(0x10000, 0x10000 + 4 * PAGE, 3, false, MemoryArea.Kind.ANONYMOUS, 0, "", NONE, "rd wr"))));
    }

    /** Rewrites a single-process image as format 1 wrote it: version 1, an index without PIDs, a new END. */
    private static byte[] toFormatOne(byte[] v2) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer in = ByteBuffer.wrap(v2);
        byte[] header = Arrays.copyOf(v2, Format.HEADER_BYTES);
        ByteBuffer.wrap(header).putShort(8, (short) 1);
        CRC32C crc = new CRC32C();
        crc.update(header, 0, Format.HEADER_BYTES - 4);
        ByteBuffer.wrap(header).putInt(Format.HEADER_BYTES - 4, (int) crc.getValue());
        out.write(header);
        int at = Format.HEADER_BYTES;
        long pageBytes = 0;
        while (at < v2.length) {
            int type = in.getShort(at) & 0xffff;
            int stored = in.getInt(at + 8);
            byte[] payload = Arrays.copyOfRange(v2, at + Format.RECORD_HEADER_BYTES, at + Format.RECORD_HEADER_BYTES + stored);
            at += Format.RECORD_HEADER_BYTES + stored;
            if (type == RecordType.END.id()) {
                byte[] digest = MessageDigest.getInstance("SHA-256").digest(out.toByteArray());
                frame(out, RecordType.END, new Encoder().bytes(digest).i64(pageBytes).toByteArray());
                break;
            }
            if (type == RecordType.GHOSTS.id()) {
                continue; // version 1 had no deleted files or memfds
            }
            if (type == RecordType.INDEX.id()) {
                PageIndex index = PageIndex.decode(payload, 2);
                Encoder e = new Encoder().i32(index.entries().size());
                index.entries().forEach(x -> e.i64(x.address()).i32(x.pages()).i64(x.offset()));
                payload = e.toByteArray();
            }
            if (type == RecordType.PAGES.id()) {
                pageBytes += payload.length - Format.PAGES_PREFIX_BYTES;
            }
            frame(out, RecordType.fromId(type), payload);
        }
        return out.toByteArray();
    }

    private static void frame(ByteArrayOutputStream out, RecordType type, byte[] payload) throws IOException {
        CRC32C crc = new CRC32C();
        crc.update(payload);
        ByteBuffer h = ByteBuffer.allocate(Format.RECORD_HEADER_BYTES);
        h.putShort((short) type.id()).put((byte) 0).put((byte) 0).putInt(payload.length).putInt(payload.length)
                .putInt((int) crc.getValue());
        out.write(h.array());
        out.write(payload);
    }
}
