"""tokenscale metrics package."""
