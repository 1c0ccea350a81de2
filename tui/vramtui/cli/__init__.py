"""The headless command line. Its output and exit codes are an API (see README)."""
