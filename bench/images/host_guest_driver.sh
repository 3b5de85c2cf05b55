#!/bin/sh
# vcbench hosts tier, inside the systemd guest: run the carried script, then power off.
# The carry disk (/dev/vdb, ext4) holds the project, its wheels, the workload image and run.sh;
# everything run.sh writes under /carry/out goes back to the host with the disk.
mkdir -p /carry
if mount -t ext4 /dev/vdb /carry && [ -x /carry/run.sh ]; then
    mkdir -p /carry/out
    echo "VCBENCH-HOSTS start $(cat /proc/uptime)"
    /carry/run.sh > /carry/out/driver.log 2>&1
    echo "$?" > /carry/out/driver.rc
    echo "VCBENCH-HOSTS done rc=$(cat /carry/out/driver.rc) $(cat /proc/uptime)"
    sync
    umount /carry || sync
else
    echo "VCBENCH-HOSTS no carry disk or no /carry/run.sh"
fi
systemctl poweroff --no-block
