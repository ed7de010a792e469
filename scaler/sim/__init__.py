"""The fleet simulator: a discrete-event model of vLLM Deployments on a GPU cluster, driven by
request traces, under tokenscale's real decide() or a baseline autoscaler (HPA, KEDA, Knative KPA)
or an oracle that knows the future. See docs/simulator.md."""
