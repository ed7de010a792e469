"""Cost per token: GPU prices, GPU-seconds held per Deployment, tokens served, and the report.

Pure modules (no I/O): gpu_models, prices, split, live, accounting, samples, report_format.
I/O: price_file (YAML), history (Prometheus range reads), plot (matplotlib), cli.
"""
