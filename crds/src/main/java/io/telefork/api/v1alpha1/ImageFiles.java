package io.telefork.api.v1alpha1;

/**
 * The one place that turns a Checkpoint's identity into an image file name. Only the namespace, name and
 * uid are used, each checked against the API's own name rules, so no spec text can reach a path.
 */
public final class ImageFiles {

    private static final String UID = "^[0-9a-fA-F-]{1,64}$";

    private ImageFiles() {
    }

    public static String fileName(String namespace, String checkpointName, String checkpointUid) {
        if (!Names.isDnsLabel(namespace)) {
            throw new IllegalArgumentException("invalid namespace: " + namespace);
        }
        if (!Names.isDnsSubdomain(checkpointName)) {
            throw new IllegalArgumentException("invalid checkpoint name: " + checkpointName);
        }
        if (checkpointUid == null || !checkpointUid.matches(UID)) {
            throw new IllegalArgumentException("invalid checkpoint uid: " + checkpointUid);
        }
        // '_' cannot occur in any of the three parts, so the name is unambiguous.
        return namespace + "_" + checkpointName + "_" + checkpointUid.toLowerCase() + ".tfimg";
    }
}
