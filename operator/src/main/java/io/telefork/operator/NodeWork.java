package io.telefork.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.telefork.api.v1alpha1.Names;
import io.telefork.api.v1alpha1.NodeOperation;
import io.telefork.api.v1alpha1.NodeOperationSpec;
import jakarta.enterprise.context.ApplicationScoped;

import java.net.HttpURLConnection;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * Creates NodeOperations. The name is a function of the owner's UID and the step, so whatever happens
 * between a create and the status patch that records it (a crash, a conflict, a repeated reconcile), the
 * next reconcile finds the same object instead of creating a second one: node work is never repeated.
 */
@ApplicationScoped
public class NodeWork {

    private final KubernetesClient client;

    public NodeWork(KubernetesClient client) {
        this.client = client;
    }

    public static String name(HasMetadata owner, NodeOperation.Type type) {
        String base = owner.getMetadata().getName();
        if (base.length() > 40) {
            base = base.substring(0, 40);
        }
        base = base.replaceAll("[-.]+$", "");
        return base + "-" + type.name().toLowerCase() + "-" + shortHash(owner.getMetadata().getUid() + "/" + type);
    }

    public NodeOperation get(String namespace, String name) {
        return client.resources(NodeOperation.class).inNamespace(namespace).withName(name).get();
    }

    /** Returns the existing operation for this owner and step, or creates it. */
    public NodeOperation ensure(HasMetadata owner, NodeOperation.Type type, NodeOperationSpec spec) {
        String ns = owner.getMetadata().getNamespace();
        String name = name(owner, type);
        NodeOperation existing = get(ns, name);
        if (existing != null) {
            return existing;
        }
        spec.setType(type);
        NodeOperation op = new NodeOperation();
        op.getMetadata().setName(name);
        op.getMetadata().setNamespace(ns);
        op.getMetadata().setLabels(Map.of(
                Names.NODE_LABEL, spec.getNodeName(),
                Names.OWNER_LABEL, owner.getMetadata().getName().length() <= 63 ? owner.getMetadata().getName() : shortHash(owner.getMetadata().getName())));
        op.getMetadata().setOwnerReferences(java.util.List.of(new OwnerReferenceBuilder()
                .withApiVersion(owner.getApiVersion()).withKind(owner.getKind())
                .withName(owner.getMetadata().getName()).withUid(owner.getMetadata().getUid())
                .withController(true).withBlockOwnerDeletion(true).build()));
        op.setSpec(spec);
        try {
            return client.resources(NodeOperation.class).inNamespace(ns).resource(op).create();
        } catch (KubernetesClientException e) {
            if (e.getCode() == HttpURLConnection.HTTP_CONFLICT) {
                return get(ns, name);
            }
            throw e;
        }
    }

    static String shortHash(String s) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 4);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
