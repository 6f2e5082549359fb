"""The sections of ``benchmarks/run.py``, one module per part of what is measured (see run.py)."""
