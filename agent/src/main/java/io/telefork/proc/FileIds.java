package io.telefork.proc;

import io.telefork.image.FileId;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** stat(2) of a path, as a {@link FileId}. */
public final class FileIds {
    public static final FileId NONE = new FileId(0, 0, 0, 0, 0);

    private FileIds() {
    }

    public static FileId stat(Path path) throws IOException {
        Map<String, Object> a = Files.readAttributes(path, "unix:dev,ino,size,lastModifiedTime,mode");
        return new FileId((Long) a.get("dev"), (Long) a.get("ino"), (Long) a.get("size"),
                ((FileTime) a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS), (Integer) a.get("mode"));
    }
}
