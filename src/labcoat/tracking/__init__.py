"""Experiment tracking, model format and registry on MLflow.

``store`` picks and prepares the store, ``recorder`` writes a study as runs, ``lineage`` says
what produced it, ``pyfunc`` saves models in MLflow's format, ``registry`` manages registered
models and aliases, ``runs`` reads studies back. MLflow is imported only when these are used.
"""
