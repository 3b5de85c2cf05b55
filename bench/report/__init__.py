"""Reports: the single-run page, run comparison, the cross-run history index and exports.

The run page: `bench.report.render.render_run(run) -> str` (pure) and
`bench.report.render.write_report(run_dir, out_dir=None) -> Path` (writes index.html), behind
`vcbench report` (bench.cli.report.report_command). Nothing is imported here, so loading one
report module does not pay for matplotlib.
"""
