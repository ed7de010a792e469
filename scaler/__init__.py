"""tokenscale scaler package."""
