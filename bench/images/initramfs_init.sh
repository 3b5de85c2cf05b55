#!/bin/busybox sh
# vcbench initramfs /init: load the virtio modules (no modules.dep: insmod in the listed
# order), mount the root disk, and hand PID 1 over to the guest init inside the rootfs.
# Reads from the kernel command line: root=DEV (default /dev/vda), ro, vcbench.init=PATH.
/bin/busybox mkdir -p /usr/bin /sbin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

fail() {
    echo "VCBENCH-FAILED initramfs: $*" > /dev/console
    poweroff -f
}

mount -t proc proc /proc
# The guest's own clock at each boot phase (seconds since the kernel started), read by the
# startup workload: kernel -> initramfs -> guest init -> marker, as Kata's launch metrics split it.
read -r up _ < /proc/uptime
echo "VCBENCH-PHASE initramfs $up" > /dev/console
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

root=/dev/vda
flags=rw
init=/usr/local/sbin/vcbench-init
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        root=*) root="${arg#root=}" ;;
        ro) flags=ro ;;
        vcbench.init=*) init="${arg#vcbench.init=}" ;;
    esac
done

while read -r module; do
    insmod "/lib/modules/$module.ko" || fail "insmod $module"
done < /etc/vcbench-modules

# virtio and SATA disks probe asynchronously (libata resets the AHCI ports, the SCSI scan
# is async): give root=DEV, vda or sda by the VM profile's disk bus, up to 10 s to appear.
tries=0
while [ ! -b "$root" ]; do
    tries=$((tries + 1))
    [ "$tries" -gt 200 ] && fail "no root device $root"
    usleep 50000
done

mount -t ext4 -o "$flags" "$root" /newroot || fail "cannot mount $root"
[ -x "/newroot$init" ] || fail "no guest init $init in the root filesystem"

# Everything the guest's commands expect to find mounted is set up here, with static
# busybox applets: under TCG every exec of a dynamic binary costs ~0.1 s of boot time.
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /newroot/tmp
for fs in /dev /proc /sys; do
    mount --move "$fs" "/newroot$fs" || fail "cannot move $fs into the root filesystem"
done
exec switch_root /newroot "$init"
