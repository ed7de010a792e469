"""`tokenscale bench` / `make bench`: controller tick, activator and simulator benchmarks."""
