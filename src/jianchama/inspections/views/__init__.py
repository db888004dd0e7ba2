"""The inspections app's pages, one module per area; `urls.py` maps them."""
