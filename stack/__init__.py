"""Production mode on this machine: see stack/__main__.py."""
