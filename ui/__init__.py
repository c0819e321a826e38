"""Streamlit helpers shared by the pages: the process's store, the rules, the signed-in person, caching.

Pages stay thin: they read through exq_core's named queries (cached here) and call its use cases."""
