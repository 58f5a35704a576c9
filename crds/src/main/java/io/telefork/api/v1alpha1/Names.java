package io.telefork.api.v1alpha1;

/** Patterns of the names the API accepts; the API server refuses anything else before telefork sees it. */
public final class Names {
    public static final String DNS_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
    public static final String DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

    /** The label carrying a NodeOperation's node: the agent of that node watches only its own. */
    public static final String NODE_LABEL = "telefork.io/node";
    /** The label naming the user-facing resource a NodeOperation or target pod belongs to. */
    public static final String OWNER_LABEL = "telefork.io/owner";
    /** Finalizer that deletes a Checkpoint's image files. */
    public static final String FINALIZER = "telefork.io/images";
    /** On Migrations: a source process the dump left stopped is resumed or its pod deleted before the Migration goes. */
    public static final String SOURCE_FINALIZER = "telefork.io/source-process";

    private Names() {
    }

    public static boolean isDnsSubdomain(String s) {
        return s != null && s.length() <= 253 && s.matches(DNS_SUBDOMAIN);
    }

    public static boolean isDnsLabel(String s) {
        return s != null && s.length() <= 63 && s.matches(DNS_LABEL);
    }
}
