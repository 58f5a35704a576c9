package io.telefork.api.v1alpha1;

/** Where an image file lives. */
public enum ImageStorage {
    /** The node-local image directory (hostPath) of the node that dumped it: fast, that node only. */
    NodeLocal,
    /** The shared ReadWriteMany volume mounted by every agent: restorable on any node. */
    Shared
}
