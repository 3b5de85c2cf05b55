"""The host: prerequisites, daemons, acceleration, and the checks that say what is missing."""
