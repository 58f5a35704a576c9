#!/bin/sh
# make-image-root.sh JAVA_HOME OUT
#
# Lays out the base of a container image without Docker or a registry: a jlink'ed JRE in OUT/opt/java,
# the host's shared libraries it needs (found with ldd, copied without symlinks, since Jib's extra
# directories drop symlinks), /usr/bin/sleep and an empty /tmp (JNA and zstd-jni unpack their native
# libraries there).
# Jib then builds the image FROM scratch on top of OUT (mvn -Pimages package).
set -eu
java_home=$1
out=$2

rm -rf "$out"
mkdir -p "$out/opt" "$out/tmp"
"$java_home/bin/jlink" \
    --add-modules java.se,jdk.unsupported,jdk.httpserver,jdk.crypto.ec,jdk.zipfs,jdk.management \
    --strip-debug --no-header-files --no-man-pages --compress=2 \
    --output "$out/opt/java"

# Every shared object the JRE's launcher and libraries load, including the dynamic loader itself; not
# those of the graphics and sound libraries (java.desktop is here for java.beans, which needs none).
find "$out/opt/java" -type f \( -name '*.so' -o -path '*/bin/*' \) \
    ! -name '*awt*' ! -name '*font*' ! -name '*jsound*' ! -name '*splash*' ! -name '*lcms*' \
    ! -name '*javajpeg*' ! -name '*mlib*' -print |
while read -r f; do
    ldd "$f" 2>/dev/null || true
done |
sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p' | sort -u |
while read -r lib; do
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
done
# The native libraries inside the dependency jars (JNA's jnidispatch, zstd-jni, lz4-java), unpacked at
# run time, link against glibc's compatibility stubs, which the JRE itself does not load: zstd-jni
# fails with "libpthread.so.0: cannot open shared object file" without them.
for lib in libpthread.so.0 libdl.so.2 librt.so.1 libm.so.6; do
    for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do
        if [ -e "$dir/$lib" ] && [ ! -e "$out$dir/$lib" ]; then
            mkdir -p "$out$dir"
            cp -L "$dir/$lib" "$out$dir/$lib"
            break
        fi
    done
done
# sleep, with its libraries: the restorer's helper vessel (seized at once), spawned into a pod's PID
# namespace to write ns_last_pid there when a tree or threads are restored into its placeholder; and the
# throwaway process the agent dumps once at start (Engine.practiceDump), so that its first real dump
# does not pay the JVM's first-call costs while a workload is frozen.
mkdir -p "$out/usr/bin"
cp -L /usr/bin/sleep "$out/usr/bin/sleep"
ldd /usr/bin/sleep | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p' |
while read -r lib; do
    if [ ! -e "$out$lib" ]; then
        mkdir -p "$out$(dirname "$lib")"
        cp -L "$lib" "$out$lib"
    fi
done
# Programs look for the loader under /lib64 as well as where ldd found it.
if [ -e /lib64/ld-linux-x86-64.so.2 ] && [ ! -e "$out/lib64/ld-linux-x86-64.so.2" ]; then
    mkdir -p "$out/lib64"
    cp -L /lib64/ld-linux-x86-64.so.2 "$out/lib64/"
fi
echo "image root in $out: $(du -sh "$out" | cut -f1)"
