"""Source tables and the deterministic generator for the built-in evaluation suites.

Run ``python -m evals.suites.build.make_suites`` to rewrite ``evals/suites/*.jsonl``.
"""
