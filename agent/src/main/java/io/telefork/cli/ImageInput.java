package io.telefork.cli;

import io.telefork.engine.EngineException;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Path;

/** Opens FILE, or stdin for "-". */
final class ImageInput {
    private ImageInput() {
    }

    static ReadableByteChannel open(String file) throws EngineException {
        if (file.equals("-")) {
            return Cli.readStream(new FileInputStream(FileDescriptor.in).getChannel());
        }
        try {
            return FileChannel.open(Path.of(file));
        } catch (IOException e) {
            throw new EngineException(EngineException.Reason.IO, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
