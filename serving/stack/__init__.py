"""Launchers for the real components used by tests and the demo (Prometheus, Alertmanager, KWOK).

Every server listens on 127.0.0.1 on a free port and is stopped by its PID.
"""
