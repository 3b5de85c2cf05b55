#!/bin/sh
# vcbench's runsc wrapper, installed and registered by `vcbench host setup` only where the
# plain runsc refuses gVisor's own network stack (netstack).
#
# runsc 20221219 tells the host's network namespace from a container's by whether
# /proc/sys/net/core/rmem_default exists, and refuses netstack in the host's. Newer kernels
# show that file in every namespace, so every container is refused. This runs runsc in a
# private mount namespace whose /proc/sys holds everything but net/: the check then sees the
# container's namespace as what it is. Nothing else changes: same binary, same flags, and
# the mounts below are private to this process and gone with it.
set -eu
exec unshare --mount --propagation slave /bin/sh -eu -c '
stage=/run/vcbench/runsc-sys
mkdir -p "$stage"
mount --bind /proc/sys "$stage"
mount -t tmpfs -o mode=0555,size=64k vcbench-runsc-sys /proc/sys
for entry in "$stage"/*; do
    name=${entry##*/}
    [ "$name" = net ] && continue
    mkdir "/proc/sys/$name"
    mount --bind "$entry" "/proc/sys/$name"
done
umount "$stage"
mount -o remount,ro,bind /proc/sys
exec "$0" "$@"' @RUNSC@ "$@"
