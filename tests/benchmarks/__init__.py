"""Benchmarks: our transport and adapters against raw HTTP and the peer libraries (``python -m tests.benchmarks``).

Not part of the test run (no module here is named ``test_*`` except the quick smoke test). See README, Benchmarks.
"""
