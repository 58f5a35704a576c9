package io.telefork.image;

import java.io.IOException;

/** The stream is not a valid image: truncated, corrupt, of another architecture or of a newer format. */
public class ImageFormatException extends IOException {
    public ImageFormatException(String message) {
        super(message);
    }
}
