"""tokenscale dashboards package."""
