package io.telefork.api.v1alpha1;

/** How the memory pages in an image are compressed. */
public enum ImageCompression {
    None,
    Lz4,
    Zstd
}
