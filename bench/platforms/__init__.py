"""Native, Docker and libvirt behind one protocol: same limits, same exec, same startup clock."""
