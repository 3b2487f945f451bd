"""glasslm's evaluation engine: suites, a batched runner, metrics with intervals, and history.

Dependencies point one way (desktop -> evals -> engine). The runner reaches a model only
through `evals.backend.LanguageModel`; `history` is the only code that runs SQL.
"""
