"""Shared test helpers: the backtest harness, strategies, replays and servers the tests use."""
