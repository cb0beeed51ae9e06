"""Freqtrade strategy mixins: each puts one position-management policy on Freqtrade's callbacks."""
