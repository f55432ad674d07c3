"""Report pages: every pipeline's report as one self-contained HTML page (Jinja2, one stylesheet)."""
