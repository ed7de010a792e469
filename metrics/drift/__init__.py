"""Drift reports: request features of a reference window against a current one, with evidently.

Pure modules: features, policy, histograms, summary, windows. I/O: records_io, prometheus_source,
evaluate (imports evidently lazily), exporter, serve (apscheduler), cli.
"""
