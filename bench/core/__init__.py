"""The bottom layer: errors, paths, platform names, workload and suite definitions,
tool-output parsers, host commands. Imports nothing else from bench."""
