package io.telefork.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.telefork.engine.EngineException;
import io.telefork.image.ImageFormatException;
import io.telefork.image.ImageSummary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.channels.ReadableByteChannel;
import java.util.concurrent.Callable;

@Command(name = "inspect", description = "Show what an image holds and whether every checksum verifies "
        + "(exit 6 if not).")
final class InspectCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Parameters(index = "0", paramLabel = "FILE")
    String file;

    @Mixin
    Verbosity verbosity;

    @Override
    public Integer call() throws Exception {
        ImageSummary summary;
        try (ReadableByteChannel in = ImageInput.open(file)) {
            summary = ImageSummary.read(in);
        } catch (ImageFormatException e) {
            throw new EngineException(EngineException.Reason.BAD_IMAGE, "bad image: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new EngineException(EngineException.Reason.IO, "reading " + file + " failed: " + e.getMessage(), e);
        }
        InspectView view = new InspectView(summary);
        if (json) {
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(view.toJson()));
        } else {
            System.out.print(view.toText(verbosity.level()));
        }
        System.out.flush();
        if (!summary.verified()) {
            System.err.println("telefork: image does not verify: " + summary.problem());
            return EngineException.Reason.BAD_IMAGE.exitCode();
        }
        return 0;
    }
}
