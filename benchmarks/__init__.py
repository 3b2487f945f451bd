"""glasslm's speed measurements: the `glasslm bench` harness and comparison scripts.

Measures; never asserts. Kept out of `engine/` because it drives transformers as the
reference when asked to compare (engine/ never imports transformers).
"""
