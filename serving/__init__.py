"""Everything on the request path: manifests, the activator, and the vLLM/DCGM emulators."""
