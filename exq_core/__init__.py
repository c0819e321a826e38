"""exq — the ecommerce exception queue. All logic lives here; this package never imports streamlit."""

__version__ = "0.1.0"
