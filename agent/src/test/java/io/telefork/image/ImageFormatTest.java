package io.telefork.image;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ImageFormatTest {

    @Test
    void lazyPlanRoundTripsAndAnswersByProcessAndAddress() throws Exception {
        LazyPlan plan = new LazyPlan(List.of(new LazyPlan.Run(7, 0x10000, 4), new LazyPlan.Run(7, 0x20000, 1),
                new LazyPlan.Run(9, 0x10000, 2)));
        LazyPlan back = LazyPlan.decode(plan.encode());
        assertThat(back.runs()).isEqualTo(plan.runs());
        assertThat(back.holds(7, 0x10000)).isTrue();
        assertThat(back.holds(7, 0x13000)).isTrue();
        assertThat(back.holds(7, 0x14000)).isFalse();
        assertThat(back.holds(7, 0x20000)).isTrue();
        assertThat(back.holds(7, 0x21000)).isFalse();
        assertThat(back.holds(8, 0x10000)).isFalse();
        assertThat(back.holds(9, 0x11000)).isTrue();
        assertThat(back.holds(9, 0x12000)).isFalse();
        assertThat(back.pageBytes()).isEqualTo(7L * PAGE);
    }

    @Test
    void lazyPlanRefusesOverlappingRunsAndSplitProcesses() throws Exception {
        byte[] overlapping = new LazyPlan(List.of(new LazyPlan.Run(7, 0x20000, 4), new LazyPlan.Run(7, 0x10000, 1),
                new LazyPlan.Run(7, 0x22000, 1))).encode();
        byte[] split = new LazyPlan(List.of(new LazyPlan.Run(7, 0x10000, 1), new LazyPlan.Run(9, 0x20000, 1),
                new LazyPlan.Run(7, 0x30000, 1))).encode();
        assertThatThrownBy(() -> LazyPlan.decode(overlapping)).isInstanceOf(ImageFormatException.class)
                .hasMessageContaining("overlap");
        assertThatThrownBy(() -> LazyPlan.decode(split)).isInstanceOf(ImageFormatException.class)
                .hasMessageContaining("do not come together");
        // The order of the stream, not of addresses: a small area after a big one is fine.
        LazyPlan plan = LazyPlan.decode(new LazyPlan(List.of(new LazyPlan.Run(7, 0x7f0000000000L, 2),
                new LazyPlan.Run(7, 0x10000, 1))).encode());
        assertThat(plan.runOf(7, 0x10000)).isEqualTo(1);
        assertThat(plan.runOf(7, 0x7f0000001000L)).isZero();
        assertThat(plan.runOf(7, 0x11000)).isEqualTo(-1);
    }

    private static final int PAGE = Format.PAGE_SIZE;

    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(Compression.class)
    void roundTripsEveryRecordAndPage(Compression compression) throws IOException {
        byte[] random = new byte[8 * PAGE];
        new Random(7).nextBytes(random);
        byte[] compressible = new byte[16 * PAGE];
        Arrays.fill(compressible, (byte) 0x5a);
        Image written = write(compression, List.of(new Run(0x10000, random), new Run(0x7f0000000000L, compressible)));

        ImageReader reader = new ImageReader(Channels.newChannel(new ByteArrayInputStream(written.bytes)));
        ImageHead head = ImageHead.read(reader);
        assertThat(head.process().pid()).isEqualTo(4242);
        assertThat(head.process().cmdline()).containsExactly("/bin/app", "--flag", "ünïcode");
        assertThat(head.process().credentials().groups()).containsExactly(4, 27);
        assertThat(head.process().credentials().seccomp()).isEqualTo(2);
        assertThat(head.thread().regs()[Regs.RIP]).isEqualTo(0x401000L);
        assertThat(head.fds()).hasSize(1);
        assertThat(head.ghosts()).containsExactly(GHOST);
        assertThat(head.ghostData()).as("the GHOST_DATA after AREAS are read with the head").hasSize(2);
        assertThat(head.areas()).hasSize(2);
        List<Run> read = new ArrayList<>();
        List<GhostFile.Chunk> chunks = head.ghostData();
        ImageReader.Record r;
        PageIndex index = null;
        while ((r = reader.next()) != null) {
            if (r.type() == RecordType.PAGES) {
                byte[] data = new byte[r.pageCount() * PAGE];
                r.pages().get(data);
                read.add(new Run(r.address(), data));
            } else if (r.type() == RecordType.INDEX) {
                index = PageIndex.decode(r.payload());
            }
        }
        assertThat(chunks).hasSize(2);
        assertThat(chunks.get(0).data()).as("an all-zero chunk travels without its bytes").isEmpty();
        assertThat(chunks.get(1).offset()).isEqualTo(GhostFile.CHUNK);
        assertThat(chunks.get(1).data()).isEqualTo("0123456789".getBytes());
        assertThat(read).hasSize(2);
        assertThat(read.get(0).data).isEqualTo(random);
        assertThat(read.get(1).data).isEqualTo(compressible);
        assertThat(reader.end().sha256()).isEqualTo(written.summary.sha256());
        assertThat(index).isNotNull();
        assertThat(index.find(0x7f0000000000L + 5 * PAGE).address()).isEqualTo(0x7f0000000000L);
        assertThat(index.find(0x7f0000000000L + 16 * PAGE)).isNull();
        // The index points at the PAGES record itself, so a reader with random access can seek there.
        long offset = index.find(0x10000).offset();
        assertThat(ByteBuffer.wrap(written.bytes, (int) offset, 2).getShort()).isEqualTo((short) RecordType.PAGES.id());
    }

    @Test
    void compressionShrinksCompressiblePagesButStoresRandomPagesRaw() throws IOException {
        byte[] random = new byte[64 * PAGE];
        new Random(1).nextBytes(random);
        byte[] zeros = new byte[64 * PAGE];
        long plainRandom = write(Compression.NONE, List.of(new Run(0x1000, random))).bytes.length;
        long zstdRandom = write(Compression.ZSTD, List.of(new Run(0x1000, random))).bytes.length;
        long zstdZeros = write(Compression.ZSTD, List.of(new Run(0x1000, zeros))).bytes.length;
        assertThat(zstdRandom).isEqualTo(plainRandom);
        assertThat(zstdZeros).isLessThan(plainRandom / 20);
    }

    /**
     * After a stretch of incompressible memory the writer stops trying the codec on every run, but still
     * tries every so often: compressible memory after it is compressed again, and every page reads back.
     */
    @Test
    void compressibleMemoryAfterIncompressibleIsCompressedAgain() throws IOException {
        int randomRuns = ImageWriter.TRIED_IN_A_ROW + 3 * ImageWriter.PROBE_EVERY;
        int zeroRuns = 2 * ImageWriter.PROBE_EVERY;
        List<Run> runs = new java.util.ArrayList<>();
        Random random = new Random(9);
        for (int i = 0; i < randomRuns + zeroRuns; i++) {
            byte[] page = new byte[PAGE];
            if (i < randomRuns) {
                random.nextBytes(page);
            }
            runs.add(new Run(0x7f0000000000L + (long) i * PAGE, page));
        }
        byte[] bytes = write(Compression.LZ4, runs).bytes;
        ImageReader reader = new ImageReader(Channels.newChannel(new ByteArrayInputStream(bytes)));
        ImageHead.read(reader);
        List<Compression> codecs = new java.util.ArrayList<>();
        ImageReader.Record r;
        int i = 0;
        while ((r = reader.next()) != null) {
            if (r.type() == RecordType.PAGES) {
                byte[] got = new byte[PAGE];
                r.pages().get(got);
                assertThat(got).as("page %d", i).isEqualTo(runs.get(i).data);
                codecs.add(r.codec());
                i++;
            }
        }
        assertThat(codecs).hasSize(randomRuns + zeroRuns);
        assertThat(codecs.subList(0, randomRuns)).containsOnly(Compression.NONE);
        assertThat(codecs.subList(randomRuns + ImageWriter.PROBE_EVERY, randomRuns + zeroRuns))
                .as("zero pages within %d runs of the random ones", ImageWriter.PROBE_EVERY).containsOnly(Compression.LZ4);
    }

    /** Format 4 on: the END record holds the SHA-256 of the image header and every record header before it. */
    @Test
    void theEndRecordHoldsTheDigestOfTheHeaders() throws Exception {
        byte[] data = new byte[3 * PAGE];
        new Random(7).nextBytes(data);
        Image image = write(Compression.NONE, List.of(new Run(0x1000, data), new Run(0x9000, new byte[PAGE])));
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(image.bytes, 0, Format.HEADER_BYTES);
        ByteBuffer b = ByteBuffer.wrap(image.bytes);
        int records = 0;
        for (int at = Format.HEADER_BYTES; b.getShort(at) != RecordType.END.id(); records++) {
            md.update(image.bytes, at, Format.RECORD_HEADER_BYTES);
            at += Format.RECORD_HEADER_BYTES + b.getInt(at + 8);
        }
        assertThat(records).as("records before END").isGreaterThanOrEqualTo(3);
        assertThat(image.summary.sha256()).isEqualTo(HexFormat.of().formatHex(md.digest()));
        assertThat(b.getShort(8)).as("format version").isEqualTo((short) Format.VERSION);
    }

    /**
     * A format 3 image, whose END holds the SHA-256 of every byte before it, still reads and verifies (as a
     * stream, mapped, and by {@link ImageDigest}), and a page changed with its CRC32C fixed up still fails.
     */
    @Test
    void formatThreeImagesAreCheckedByEveryByte() throws Exception {
        byte[] data = new byte[300 * PAGE];
        new Random(17).nextBytes(data);
        byte[] v3 = toFormatThree(write(Compression.NONE, List.of(new Run(0x1000, data))).bytes);
        String digest = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(Arrays.copyOf(v3, v3.length - Format.END_RECORD_BYTES)));
        readAll(v3);
        readAllMapped(v3);
        Path file = tmp.resolve("v3");
        Files.write(file, v3);
        try (FileChannel f = FileChannel.open(file); ImageReader mapped = ImageReader.mapped(f)) {
            assertThat(mapped.version()).isEqualTo(3);
            records(mapped);
            assertThat(mapped.end().sha256()).isEqualTo(digest);
            ImageDigest.verify(f, digest);
        }
        byte[] bad = v3.clone();
        int record = indexOf(bad, Arrays.copyOf(data, 2 * PAGE));
        bad[record + PAGE] ^= 1;
        int header = record - Format.PAGES_PREFIX_BYTES - Format.RECORD_HEADER_BYTES;
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(bad, header + Format.RECORD_HEADER_BYTES, ByteBuffer.wrap(bad).getInt(header + 8));
        ByteBuffer.wrap(bad).putInt(header + 12, (int) crc.getValue());
        assertThatThrownBy(() -> readAll(bad)).hasMessageContaining("SHA-256 mismatch");
        assertThatThrownBy(() -> readAllMapped(bad)).hasMessageContaining("SHA-256 mismatch");
        Files.write(file, bad);
        try (FileChannel f = FileChannel.open(file)) {
            assertThatThrownBy(() -> ImageDigest.verify(f, digest)).hasMessageContaining("corrupt");
        }
    }

    /** Rewrites an image as format 3 wrote it: version 3 in its header, the SHA-256 of every byte in its END. */
    private static byte[] toFormatThree(byte[] image) throws Exception {
        byte[] v3 = image.clone();
        ByteBuffer b = ByteBuffer.wrap(v3);
        b.putShort(8, (short) 3);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(v3, 0, Format.HEADER_BYTES - 4);
        b.putInt(Format.HEADER_BYTES - 4, (int) crc.getValue());
        int end = v3.length - Format.END_RECORD_BYTES;
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(Arrays.copyOf(v3, end));
        System.arraycopy(digest, 0, v3, end + Format.RECORD_HEADER_BYTES + 4, digest.length);
        crc.reset();
        crc.update(v3, end + Format.RECORD_HEADER_BYTES, Format.END_RECORD_BYTES - Format.RECORD_HEADER_BYTES);
        b.putInt(end + 12, (int) crc.getValue());
        return v3;
    }

    /** A file checked against the digest a dump reported, without reading it as an image (the node agent's check). */
    @Test
    void aFileIsCheckedAgainstItsImageDigest(@TempDir Path tmp) throws IOException {
        byte[] data = new byte[3 * PAGE];
        new Random(5).nextBytes(data);
        Image image = write(Compression.LZ4, List.of(new Run(0x1000, data)));
        Path file = tmp.resolve("img");
        Files.write(file, image.bytes);
        String sha = image.summary.sha256();
        try (FileChannel ch = FileChannel.open(file)) {
            assertThat(ImageDigest.endSha256(ch)).isEqualTo(sha);
            ImageDigest.verify(ch, sha);
            String other = (sha.charAt(0) == '0' ? "1" : "0") + sha.substring(1);
            assertThatThrownBy(() -> ImageDigest.checkEnd(ch, other)).isInstanceOf(ImageFormatException.class)
                    .hasMessageContaining("another image");
        }
        for (int at : new int[] {0, image.bytes.length / 2, image.bytes.length - 61}) {
            byte[] bad = image.bytes.clone();
            bad[at] ^= 4;
            Files.write(file, bad);
            try (FileChannel ch = FileChannel.open(file)) {
                assertThatThrownBy(() -> ImageDigest.verify(ch, sha)).as("flip at byte %d", at)
                        .isInstanceOf(ImageFormatException.class).hasMessageContaining("corrupt");
            }
        }
        byte[] bad = image.bytes.clone();
        bad[image.bytes.length - 20] ^= 4;
        Files.write(file, bad);
        try (FileChannel ch = FileChannel.open(file)) {
            assertThatThrownBy(() -> ImageDigest.checkEnd(ch, sha)).isInstanceOf(ImageFormatException.class)
                    .hasMessageContaining("END record");
        }
        Files.write(file, Arrays.copyOf(image.bytes, image.bytes.length - 1));
        try (FileChannel ch = FileChannel.open(file)) {
            assertThatThrownBy(() -> ImageDigest.verify(ch, sha)).isInstanceOf(ImageFormatException.class);
        }
    }

    @Test
    void truncatedImageIsRefusedAtEveryLength() throws IOException {
        byte[] bytes = write(Compression.LZ4, List.of(new Run(0x1000, new byte[3 * PAGE]))).bytes;
        for (int cut = 0; cut < bytes.length; cut += 97) {
            byte[] part = Arrays.copyOf(bytes, cut);
            assertThatThrownBy(() -> readAll(part)).isInstanceOf(ImageFormatException.class)
                    .hasMessageMatching(".*(truncated|bad magic).*");
            assertThatThrownBy(() -> readAllMapped(part)).as("mapped, cut at %d", cut)
                    .isInstanceOf(ImageFormatException.class).hasMessageMatching(".*(truncated|bad magic|SHA-256).*");
        }
    }

    @Test
    void everyFlippedByteIsDetected() throws IOException {
        byte[] data = new byte[2 * PAGE];
        new Random(3).nextBytes(data);
        byte[] bytes = write(Compression.NONE, List.of(new Run(0x1000, data))).bytes;
        for (int i = 0; i < bytes.length; i += 61) {
            byte[] bad = bytes.clone();
            bad[i] ^= 0x10;
            assertThatThrownBy(() -> readAll(bad)).as("flip at byte %d", i).isInstanceOf(ImageFormatException.class);
            assertThatThrownBy(() -> readAllMapped(bad)).as("mapped, flip at byte %d", i)
                    .isInstanceOf(ImageFormatException.class);
        }
    }

    /** A mapped reader hands out the same records as a stream reader, and checks the same digest. */
    @ParameterizedTest
    @EnumSource(Compression.class)
    void aMappedFileReadsAsTheStream(Compression compression) throws IOException {
        byte[] random = new byte[300 * PAGE];
        new Random(11).nextBytes(random);
        Image written = write(compression, List.of(new Run(0x10000, random), new Run(0x7f0000000000L, new byte[PAGE])));
        List<String> streamed = records(new ImageReader(Channels.newChannel(new ByteArrayInputStream(written.bytes))));
        Path file = tmp.resolve("image");
        Files.write(file, written.bytes);
        try (FileChannel f = FileChannel.open(file); ImageReader mapped = ImageReader.mapped(f)) {
            assertThat(records(mapped)).isEqualTo(streamed);
            assertThat(mapped.end().sha256()).isEqualTo(written.summary.sha256());
        }
    }

    /** Records fetched by the INDEX from the mapping are those read from the file. */
    @ParameterizedTest
    @EnumSource(Compression.class)
    void recordsFetchedFromTheMappingAreThoseReadFromTheFile(Compression compression) throws IOException {
        byte[] random = new byte[300 * PAGE];
        new Random(13).nextBytes(random);
        Image written = write(compression, List.of(new Run(0x10000, random), new Run(0x7f0000000000L, new byte[PAGE])));
        Path file = tmp.resolve("fetched");
        Files.write(file, written.bytes);
        try (FileChannel f = FileChannel.open(file); ImageReader mapped = ImageReader.mapped(f)) {
            ImageHead.read(mapped);
            PageIndex index = PageRecords.findIndex(f, mapped.offset(), mapped.version());
            PageRecords byMapping = mapped.pageRecords(f);
            PageRecords byRead = new PageRecords(f);
            assertThat(index.entries()).hasSize(3);
            for (PageIndex.Entry e : index.entries()) {
                PageRecords.Pages a = byMapping.fetch(e);
                byte[] fromMapping = new byte[a.pages().remaining()];
                a.pages().duplicate().get(fromMapping);
                PageRecords.Pages b = byRead.fetch(e);
                byte[] fromFile = new byte[b.pages().remaining()];
                b.pages().duplicate().get(fromFile);
                assertThat(a.address()).isEqualTo(b.address());
                assertThat(fromMapping).isEqualTo(fromFile);
            }
        }
    }

    /**
     * With the page checks deferred, a mapped file's records come as before, but a record's pages are given
     * out only through checkedPages, which finds a changed page; pages() refuses a record not checked yet.
     */
    @Test
    void deferredPageChecksStillFindAChangedPage() throws IOException {
        byte[] data = new byte[4 * PAGE];
        new Random(17).nextBytes(data);
        byte[] good = write(Compression.NONE, List.of(new Run(0x1000, data), new Run(0x9000, data))).bytes;
        byte[] bad = good.clone();
        bad[indexOf(bad, data) + 2 * PAGE] ^= 1; // the first record's third page
        Path file = tmp.resolve("deferred");
        Files.write(file, bad);
        try (FileChannel f = FileChannel.open(file); ImageReader mapped = ImageReader.mapped(f)) {
            mapped.deferPageChecks();
            List<ImageReader.Record> pages = new ArrayList<>();
            ImageReader.Record r;
            while ((r = mapped.next()) != null) {
                if (r.type() == RecordType.PAGES) {
                    pages.add(r);
                }
            }
            assertThat(pages).hasSize(2);
            ImageReader.Record changed = pages.get(0);
            assertThatThrownBy(changed::pages).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("not checked yet");
            assertThatThrownBy(changed::checkedPages).isInstanceOf(ImageFormatException.class)
                    .hasMessageContaining("byte " + changed.offset()).hasMessageContaining("fails its checksum");
            assertThatThrownBy(changed::pages).isInstanceOf(IllegalStateException.class);
            byte[] second = new byte[data.length];
            pages.get(1).checkedPages().duplicate().get(second);
            assertThat(second).isEqualTo(data);
            assertThat(pages.get(1).pages().remaining()).isEqualTo(data.length);
        }
        // not deferred, the same file fails at the record itself
        assertThatThrownBy(() -> readAllMapped(bad)).isInstanceOf(ImageFormatException.class)
                .hasMessageContaining("fails its checksum");
    }

    /** A page changed with its record's CRC32C fixed up is found by the digest (of the headers), mapped as streamed. */
    @Test
    void aChangedPageWithAValidChecksumFailsTheDigest() throws IOException {
        byte[] data = new byte[4 * PAGE];
        new Random(5).nextBytes(data);
        byte[] bad = write(Compression.NONE, List.of(new Run(0x1000, data))).bytes.clone();
        int record = indexOf(bad, data);
        bad[record + PAGE] ^= 1;
        int header = record - Format.PAGES_PREFIX_BYTES - Format.RECORD_HEADER_BYTES;
        int length = ByteBuffer.wrap(bad).getInt(header + 8);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(bad, header + Format.RECORD_HEADER_BYTES, length);
        ByteBuffer.wrap(bad).putInt(header + 12, (int) crc.getValue());
        assertThatThrownBy(() -> readAll(bad)).hasMessageContaining("SHA-256 mismatch");
        assertThatThrownBy(() -> readAllMapped(bad)).hasMessageContaining("SHA-256 mismatch");
    }

    private static int indexOf(byte[] in, byte[] what) {
        outer:
        for (int i = 0; i + what.length <= in.length; i++) {
            for (int j = 0; j < what.length; j++) {
                if (in[i + j] != what[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }

    /** Every record as text: type, offset, address and the pages' or payload's hash. */
    private static List<String> records(ImageReader reader) throws IOException {
        List<String> out = new ArrayList<>();
        ImageReader.Record r;
        while ((r = reader.next()) != null) {
            byte[] body;
            if (r.pages() != null) {
                body = new byte[r.pages().remaining()];
                r.pages().duplicate().get(body);
            } else {
                body = r.payload();
            }
            out.add(r.type() + " " + r.offset() + " " + r.address() + " " + r.pageCount() + " " + Arrays.hashCode(body));
        }
        return out;
    }

    private void readAllMapped(byte[] bytes) throws IOException {
        Path file = tmp.resolve("mapped");
        Files.write(file, bytes);
        try (FileChannel f = FileChannel.open(file); ImageReader reader = ImageReader.mapped(f)) {
            ImageHead.read(reader);
            while (reader.next() != null) {
                // verified as it goes
            }
        }
    }

    @Test
    void newerFormatVersionAndOtherArchitectureAreRefusedClearly() throws IOException {
        byte[] bytes = write(Compression.NONE, List.of()).bytes;
        byte[] newer = withHeader(bytes, 8, (short) 999);
        assertThatThrownBy(() -> readAll(newer)).hasMessageContaining("version 999 is newer");
        byte[] arm = withHeader(bytes, 10, (short) 183);
        assertThatThrownBy(() -> readAll(arm)).hasMessageContaining("ELF machine 183");
        byte[] junk = "definitely not an image at all".getBytes();
        assertThatThrownBy(() -> readAll(junk)).hasMessageContaining("bad magic");
    }

    /** A version 1 image (before deleted files and memfds were saved) has no GHOSTS record and still reads. */
    @Test
    void versionOneImagesWithoutGhostsAreStillRead() throws IOException {
        byte[] v1 = withHeader(write(Compression.NONE, List.of(new Run(0x10000, new byte[PAGE])), false).bytes, 8,
                (short) 1);
        ImageReader reader = new ImageReader(Channels.newChannel(new ByteArrayInputStream(v1)));
        ImageHead head = ImageHead.read(reader);
        assertThat(reader.version()).isEqualTo(1);
        assertThat(head.ghosts()).isEmpty();
        assertThat(head.areas()).hasSize(2);
    }

    @Test
    void ghostChunkWithImplausibleLengthsIsRefused() {
        byte[] tooLong = new GhostFile.Chunk(0, 0, GhostFile.CHUNK + 1, new byte[0]).encode();
        assertThatThrownBy(() -> GhostFile.Chunk.decode(tooLong)).isInstanceOf(ImageFormatException.class);
        byte[] mismatch = new GhostFile.Chunk(0, 0, 10, new byte[3]).encode();
        assertThatThrownBy(() -> GhostFile.Chunk.decode(mismatch)).isInstanceOf(ImageFormatException.class);
    }

    /** Patches a header field and fixes the header CRC, as a newer writer would have written it. */
    private static byte[] withHeader(byte[] image, int at, short value) {
        byte[] b = image.clone();
        ByteBuffer.wrap(b).putShort(at, value);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(b, 0, Format.HEADER_BYTES - 4);
        ByteBuffer.wrap(b).putInt(Format.HEADER_BYTES - 4, (int) crc.getValue());
        return b;
    }

    private static void readAll(byte[] bytes) throws IOException {
        ImageReader reader = new ImageReader(Channels.newChannel(new ByteArrayInputStream(bytes)));
        ImageHead.read(reader);
        while (reader.next() != null) {
            // verified as it goes
        }
    }

    private record Run(long address, byte[] data) {
    }

    private record Image(byte[] bytes, ImageWriter.Summary summary) {
    }

    private static final GhostFile GHOST = new GhostFile(GhostFile.Kind.MEMFD, "/memfd:cache",
            new FileId(5, 77, GhostFile.CHUNK + 10, 123, 0100600), 1000, 100, 0x1 | 0x4);

    private static Image write(Compression compression, List<Run> runs) throws IOException {
        return write(compression, runs, true);
    }

    /** An image; {@code ghosts}: with the GHOSTS record of the current version (one memfd, two chunks). */
    private static Image write(Compression compression, List<Run> runs, boolean ghosts) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageWriter w = new ImageWriter(Channels.newChannel(out), compression);
        w.writeHeader();
        FileId none = new FileId(0, 0, 0, 0, 0);
        long[] mm = new long[ProcessInfo.MM_FIELDS];
        w.writeRecord(RecordType.PROCESS, new ProcessInfo(4242, "app", List.of("/bin/app", "--flag", "ünïcode"),
                "/bin/app", none, "/", 022, false, mm, new long[] {6, 4096}, new long[] {7, 1024, 4096}, "6.18",
                "host", 0, new Credentials(new long[] {1000, 1000, 1000, 1000}, new long[] {100, 100, 100, 100},
                new long[] {4, 27}, new long[] {0, 0, 0, -1L >>> 23, 0}, true, 2), new long[12]).encode());
        long[] regs = new long[Regs.COUNT];
        regs[Regs.RIP] = 0x401000L;
        w.writeRecord(RecordType.THREAD, new ThreadState(4242, regs, new byte[2432], 0, new long[3], new long[3], 0,
                new long[2], List.of()).encode());
        w.writeRecord(RecordType.SIGNALS, new SignalState(new long[256], List.of()).encode());
        w.writeRecord(RecordType.FILES, FdEntry.encodeAll(List.of(new FdEntry(1, FdEntry.Kind.INHERITED, "pipe:[1]",
                1, false, 0, none))));
        if (ghosts) {
            w.writeRecord(RecordType.GHOSTS, GhostFile.encodeAll(List.of(GHOST)));
        }
        w.writeRecord(RecordType.AREAS, MemoryArea.encodeAll(List.of(
                new MemoryArea(0x10000, 0x10000 + 8 * PAGE, 3, false, MemoryArea.Kind.ANONYMOUS, 0, "", none, "rd wr"),
                new MemoryArea(0x7f0000000000L, 0x7f0000000000L + 16 * PAGE, 3, false, MemoryArea.Kind.ANONYMOUS, 0,
                        "", none, "rd wr"))));
        if (ghosts) {
            w.writeRecord(RecordType.GHOST_DATA, new GhostFile.Chunk(0, 0, GhostFile.CHUNK, new byte[0]).encode());
            w.writeRecord(RecordType.GHOST_DATA, new GhostFile.Chunk(0, GhostFile.CHUNK, 10,
                    "0123456789".getBytes()).encode());
        }
        for (Run run : runs) {
            for (int off = 0; off < run.data.length; off += Format.MAX_RUN_PAGES * PAGE) {
                int len = Math.min(run.data.length - off, Format.MAX_RUN_PAGES * PAGE);
                w.writePages(run.address + off, ByteBuffer.wrap(run.data, off, len).slice());
            }
        }
        ImageWriter.Summary summary = w.finish();
        assertThat(summary.bytes()).isEqualTo(out.size());
        return new Image(out.toByteArray(), summary);
    }
}
