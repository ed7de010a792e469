"""The Kubernetes adapter: watch cache, /scale actuation, status, Events and leader election."""
