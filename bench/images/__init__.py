"""One userland for every platform: rootfs tar -> Docker image, VM disk (+kernel, initramfs), chroot tree."""
