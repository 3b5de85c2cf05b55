"""One run: the schedule, the trials, the round's instances, progress, the host
lock and the environment fingerprint."""
