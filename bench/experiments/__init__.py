"""The claim experiments: measurements that are not one command's output (sizes, density,
elasticity, isolation...). Each writes ExperimentRecords into the run directory; the
claims (bench/analysis/claims/) turn them, with the suite's samples, into verdicts."""
