package io.telefork.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code telefork inspect [--json] FILE}: the JSON describes the dumped process truthfully (pid, cmdline,
 * areas, fds) and is self-consistent (totals, ordering, the header's version); untouched memory is not
 * stored in the image.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class InspectIT {

    private static final long MIB = 1L << 20;

    @TempDir
    Path tmp;

    @RegisterExtension
    final Harness h = new Harness();

    @SuppressWarnings("unchecked")
    private static Map<String, Object> inspectJson(Harness h, Path image) {
        Harness.Result r = h.run("inspect", "--json", image.toString());
        assertThat(r.code()).as("exit status of inspect --json\nstderr: %s", r.stderr()).isZero();
        Object json = Harness.Json.parse(r.stdout());
        assertThat(json).as("inspect --json output").isInstanceOf(Map.class);
        return (Map<String, Object>) json;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> list(Map<String, Object> m, String key) {
        assertThat(m).as("JSON has '%s'", key).containsKey(key);
        return (List<Map<String, Object>>) m.get(key);
    }

    private static long hex(Object v) {
        assertThat(v).as("an address").isInstanceOf(String.class);
        assertThat((String) v).matches("0x[0-9a-f]+");
        return Long.parseUnsignedLong(((String) v).substring(2), 16);
    }

    private static long number(Object v) {
        assertThat(v).as("a number").isInstanceOf(Long.class);
        return (Long) v;
    }

    @Test
    void describesTheDumpedProcess() throws IOException {
        List<String> cmdline = List.of(Harness.program("read_file").toString(), tmp.toString());
        Harness.Proc p = h.startProgram("read_file", List.of(tmp.toString()), Map.of());
        Path image = tmp.resolve("read_file.img");
        h.dump(p.pid(), image, "--compress", "none");
        p.awaitDeath(Duration.ofSeconds(10), "dump kills the process");

        Map<String, Object> j = inspectJson(h, image);
        String all = j.toString();

        byte[] header = new byte[10];
        try (var in = Files.newInputStream(image)) {
            assertThat(in.readNBytes(header, 0, 10)).isEqualTo(10);
        }
        assertThat(number(j.get("formatVersion"))).as("formatVersion, same as the image header; " + all)
                .isEqualTo(ByteBuffer.wrap(header, 8, 2).getShort());
        assertThat(number(j.get("pid"))).as("pid").isEqualTo(p.pid());
        assertThat(j.get("cmdline")).as("cmdline").isEqualTo(cmdline);
        assertThat(j.get("verified")).as("verified").isEqualTo(Boolean.TRUE);
        assertThat(j).as("JSON keys").containsKey("signals");

        List<Map<String, Object>> areas = list(j, "areas");
        assertThat(areas).as("areas").isNotEmpty();
        long previousEnd = 0;
        long stored = 0;
        for (Map<String, Object> a : areas) {
            long start = hex(a.get("start"));
            long end = hex(a.get("end"));
            // unsigned: [vsyscall] is at 0xffffffffff600000
            assertThat(Long.compareUnsigned(start, end)).as("area %s: start below end", a).isNegative();
            assertThat(Long.compareUnsigned(start, previousEnd)).as("area %s: sorted, not overlapping the previous", a)
                    .isNotNegative();
            assertThat(start % 4096).as("start of %s", a).isZero();
            assertThat(end % 4096).as("end of %s", a).isZero();
            assertThat((String) a.get("prot")).as("prot of %s", a).matches("[r-][w-][x-][ps]");
            assertThat(a).as("area").containsKey("backing");
            long s = number(a.get("storedBytes"));
            assertThat(s).as("storedBytes of %s (an uncompressed image)", a).isBetween(0L, end - start);
            stored += s;
            previousEnd = end;
        }
        assertThat(areas).as("an executable area backed by the program binary")
                .anyMatch(a -> String.valueOf(a.get("backing")).contains("read_file")
                        && ((String) a.get("prot")).charAt(2) == 'x');
        assertThat(areas).as("the stack").anyMatch(a -> String.valueOf(a.get("backing")).contains("stack"));

        @SuppressWarnings("unchecked")
        Map<String, Object> totals = (Map<String, Object>) j.get("totals");
        assertThat(totals).as("totals").isNotNull();
        assertThat(number(totals.get("areas"))).as("totals.areas").isEqualTo(areas.size());
        assertThat(number(totals.get("storedBytes"))).as("totals.storedBytes = sum of the areas'").isEqualTo(stored);

        List<Map<String, Object>> fds = list(j, "fds");
        assertThat(fds).as("fds").anyMatch(f -> Long.valueOf(10).equals(f.get("fd"))
                && String.valueOf(f.get("path")).equals(tmp.resolve("data.bin").toString()));
        assertThat(fds).as("fds").anyMatch(f -> Long.valueOf(11).equals(f.get("fd"))
                && String.valueOf(f.get("path")).equals(tmp.resolve("log.txt").toString()));
        assertThat(fds).as("fds").anyMatch(f -> Long.valueOf(13).equals(f.get("fd"))
                && "/dev/null".equals(f.get("path")));
        assertThat(fds).as("fds 0, 1 and 2").filteredOn(f -> number(f.get("fd")) <= 2).hasSize(3);
        assertThat(fds).as("every fd has a kind").allMatch(f -> f.get("kind") instanceof String);

        Harness.Result text = h.run("inspect", image.toString());
        assertThat(text.code()).as("exit status of inspect (text)\nstderr: %s", text.stderr()).isZero();
        assertThat(text.stdout()).as("inspect (text) mentions the pid").contains(Long.toString(p.pid()));
    }

    @Test
    void untouchedMemoryIsNotStored() {
        Harness.Proc p = h.startProgram("mem_pattern");
        Path image = tmp.resolve("mem.img");
        h.dump(p.pid(), image, "--compress", "none");
        p.awaitDeath(Duration.ofSeconds(10), "dump kills the process");

        Map<String, Object> j = inspectJson(h, image);
        assertThat(j.get("verified")).isEqualTo(Boolean.TRUE);
        // 256 MiB of which 1/101 never touched, plus 4 MiB touched in the 1 GiB sparse area, plus libc etc.
        @SuppressWarnings("unchecked")
        long total = number(((Map<String, Object>) j.get("totals")).get("storedBytes"));
        assertThat(total).as("totals.storedBytes").isBetween(240 * MIB, 400 * MIB);
        Map<String, Object> sparse = list(j, "areas").stream()
                .filter(a -> hex(a.get("end")) - hex(a.get("start")) == 1024 * MIB)
                .findFirst().orElseThrow(() -> new AssertionError("no 1 GiB area in " + j.get("areas")));
        assertThat(number(sparse.get("storedBytes"))).as("storedBytes of the sparse 1 GiB area %s", sparse)
                .isBetween(4 * MIB, 8 * MIB);
    }

    @Test
    void compressedImageVerifies() {
        Harness.Proc p = h.startProgram("brk_growth");
        Path image = tmp.resolve("brk.img");
        h.dump(p.pid(), image, "--compress", "zstd");
        p.awaitDeath(Duration.ofSeconds(10), "dump kills the process");

        Map<String, Object> j = inspectJson(h, image);
        assertThat(j.get("verified")).isEqualTo(Boolean.TRUE);
        assertThat(number(j.get("pid"))).isEqualTo(p.pid());
    }

    /**
     * A tree (tree session: a setsid child and a group leader, each with a grandchild, and a plain child):
     * every process listed once, parents before children, with its parent, group, session and threads.
     */
    @Test
    void showsTheProcessTree() {
        Harness.Proc p = h.startProgram("tree", "session");
        Path image = tmp.resolve("tree.img");
        h.dump(p.pid(), image);
        p.awaitDeath(Duration.ofSeconds(10), "dump kills the tree");

        Map<String, Object> j = inspectJson(h, image);
        List<Map<String, Object>> processes = list(j, "processes");
        assertThat(processes).as("the parent, 3 children, 2 grandchildren").hasSize(6);
        assertThat(number(processes.get(0).get("pid"))).isEqualTo(p.pid());
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (Map<String, Object> m : processes) {
            if (!seen.isEmpty()) {
                assertThat(seen).as("the parent of %s is listed before it", m).contains(number(m.get("ppid")));
            }
            assertThat(number(m.get("threads"))).as("threads of %s", m).isEqualTo(1);
            assertThat(m.get("comm")).isEqualTo("tree");
            seen.add(number(m.get("pid")));
        }
        assertThat(processes).as("a session leader").anyMatch(m -> m.get("sid").equals(m.get("pid")));
        assertThat(processes).as("a group leader that leads no session")
                .anyMatch(m -> m.get("pgid").equals(m.get("pid")) && !m.get("sid").equals(m.get("pid")));

        Harness.Result text = h.run("inspect", image.toString());
        assertThat(text.code()).isZero();
        assertThat(text.stdout()).contains("processes 6").containsPattern("(?m)^ {4}\\d+ +" + p.pid() + " ");
    }
}
