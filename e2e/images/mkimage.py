#!/usr/bin/env python3
"""Writes a docker-archive ("docker save" format) image tarball without Docker:
one layer holding the given files, an image config, and manifest.json with a repo tag.

  mkimage.py OUT.tar REPO:TAG ENTRYPOINT SRC:DEST[:MODE] ... [--dir DEST] ...

Deterministic (mtime 0, uid/gid 0). `ctr -n k8s.io images import OUT.tar` tags it
docker.io/REPO:TAG (a bare name becomes docker.io/library/NAME).
"""
import hashlib, io, json, sys, tarfile


def main(argv):
    out, tag, entry = argv[0], argv[1], argv[2]
    files, dirs, rest = [], [], argv[3:]
    i = 0
    while i < len(rest):
        if rest[i] == "--dir":
            dirs.append(rest[i + 1].lstrip("/")); i += 2; continue
        parts = rest[i].split(":")
        files.append((parts[0], parts[1].lstrip("/"), int(parts[2], 8) if len(parts) > 2 else 0o755)); i += 1

    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
        seen = set()
        def add_dir(d):
            parts = d.strip("/").split("/")
            for k in range(1, len(parts) + 1):
                p = "/".join(parts[:k])
                if p and p not in seen:
                    seen.add(p)
                    ti = tarfile.TarInfo(p); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; ti.mtime = 0
                    t.addfile(ti)
        for d in dirs:
            add_dir(d)
        for src, dest, mode in files:
            if "/" in dest:
                add_dir(dest.rsplit("/", 1)[0])
            data = open(src, "rb").read()
            ti = tarfile.TarInfo(dest); ti.size = len(data); ti.mode = mode; ti.mtime = 0
            t.addfile(ti, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()

    config = {
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": {"Entrypoint": entry.split(" "), "Env": ["PATH=/"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "telefork e2e mkimage.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_name = diff_id[7:] + "/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": [layer_name]}]

    with tarfile.open(out, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add(name, data):
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644; ti.mtime = 0
            t.addfile(ti, io.BytesIO(data))
        d = tarfile.TarInfo(diff_id[7:]); d.type = tarfile.DIRTYPE; d.mode = 0o755; d.mtime = 0
        t.addfile(d)
        add(layer_name, layer_bytes)
        add(config_name, config_bytes)
        add("manifest.json", json.dumps(manifest).encode())
        add("repositories", json.dumps({tag.rsplit(":", 1)[0]: {tag.rsplit(":", 1)[1]: diff_id[7:]}}).encode())
    print(f"{out}: {tag} ({len(layer_bytes)} byte layer, config {config_name[:12]})")


if __name__ == "__main__":
    main(sys.argv[1:])
