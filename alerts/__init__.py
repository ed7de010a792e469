"""tokenscale alerts package."""
