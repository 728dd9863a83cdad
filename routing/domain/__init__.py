"""The pure core of routing: (rules, call, instant, live device state) -> decision.

No Django import anywhere below this package: it is tested without a database, fuzzed with
hypothesis and benchmarked on its own.
"""
