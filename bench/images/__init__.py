"""One userland for every platform: a rootfs tar becomes the Docker image, VM disk, chroot."""
