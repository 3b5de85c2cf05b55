"""Reports: the single-run page, run comparison, the cross-run history index and exports."""
