#!/bin/sh
# vcbench guest init: PID 1 in the VM, started by the initramfs with switch_root.
# Brings up the network and the guest agent, prints the ready marker on the serial console,
# then waits (reaping orphans) until asked to power off.
#
# Kernel command line it reads:
#   vcbench.ip=ADDR/PREFIX[,GATEWAY]  static eth0 address (wins over DHCP)
#   vcbench.hostname=NAME             (default: /etc/hostname)
# Without vcbench.ip, eth0 (if any) asks DHCP with busybox udhcpc.
#
# Under TCG each exec of a dynamic binary costs ~0.1 s of boot time, so this script uses
# shell builtins wherever it can (read, echo, case) and batches iproute2 calls.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
bb=/bin/busybox
console=/dev/ttyS0
[ -c "$console" ] || console=/dev/console

log() { echo "vcbench-init: $*" > "$console"; }

# The initramfs mounted these; mount what is missing if booted some other way.
mounted=" "
while read -r _ target _; do mounted="$mounted$target "; done < /proc/mounts 2> /dev/null
mnt() {  # type target options
    case "$mounted" in
        *" $2 "*) ;;
        *) mkdir -p "$2" && $bb mount -t "$1" -o "$3" "$1" "$2" || log "cannot mount $2" ;;
    esac
}
mnt proc /proc nosuid,nodev,noexec
mnt sysfs /sys nosuid,nodev,noexec
mnt devtmpfs /dev mode=0755,nosuid
mnt devpts /dev/pts gid=5,mode=620,ptmxmode=666
mnt tmpfs /dev/shm mode=1777,nosuid,nodev
mnt tmpfs /run mode=0755,nosuid,nodev
mnt tmpfs /tmp mode=1777,nosuid,nodev
phase() { read -r up _ < /proc/uptime && echo "VCBENCH-PHASE $1 $up" > "$console"; }
phase init

ip_arg=""
name=vcbench
[ -r /etc/hostname ] && read -r name < /etc/hostname
read -r cmdline < /proc/cmdline
for arg in $cmdline; do
    case "$arg" in
        vcbench.ip=*) ip_arg="${arg#vcbench.ip=}" ;;
        vcbench.hostname=*) name="${arg#vcbench.hostname=}" ;;
    esac
done
echo "$name" > /proc/sys/kernel/hostname

if [ -n "$ip_arg" ]; then
    gateway=""
    case "$ip_arg" in *,*) gateway="route add default via ${ip_arg#*,}" ;; esac
    printf 'link set lo up\nlink set eth0 up\naddr add %s dev eth0\n%s\n' \
        "${ip_arg%%,*}" "$gateway" | ip -batch - || log "cannot configure eth0 as $ip_arg"
elif [ -e /sys/class/net/eth0 ]; then
    ip link set lo up
    $bb udhcpc -i eth0 -s /usr/local/sbin/vcbench-udhcpc -q -n -t 10 -T 1 > /dev/null 2>&1 ||
        log "no DHCP lease on eth0"
else
    ip link set lo up
fi

# `link set up` returns before the carrier does (under TCG, sometimes by seconds): wait for
# it, bounded, so that "ready" means a workload can use the network at once.
link_up() {
    n=0
    while [ -r /sys/class/net/eth0/operstate ] && [ "$n" -lt 200 ]; do
        read -r state < /sys/class/net/eth0/operstate
        [ "$state" = up ] && return 0
        n=$((n + 1))
        $bb usleep 50000
    done
    [ -e /sys/class/net/eth0 ] && log "eth0 is ${state:-missing} after 10 s"
    return 0
}
link_up

# No udev: name the virtio-serial ports from sysfs, as udev's rules would.
mkdir -p /dev/virtio-ports
for port in /sys/class/virtio-ports/*; do
    [ -r "$port/name" ] || continue
    read -r port_name < "$port/name"
    ln -sf "../${port##*/}" "/dev/virtio-ports/$port_name"
done
agent=/dev/virtio-ports/org.qemu.guest_agent.0
if [ -e "$agent" ]; then
    qemu-ga --daemonize -m virtio-serial -p "$agent" || log "qemu-ga did not start"
fi

power_off() {
    log "powering off"
    $bb killall qemu-ga 2> /dev/null
    sync
    $bb mount -o remount,ro / || log "cannot remount / read-only"
    $bb poweroff -f
}
# SIGUSR2 from vcbench-poweroff (qemu-ga's guest-shutdown), SIGTERM, SIGINT (ctrl-alt-del).
trap power_off USR2 TERM INT

phase ready
vcbench-ready > "$console"
while :; do
    sleep infinity &
    wait $!
done
