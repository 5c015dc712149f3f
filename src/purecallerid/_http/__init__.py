"""The HTTP toolkit: one vendor call with every guarantee, for any HTTP integration."""
