"""The guards around an integration's calls: quota, rate limit, circuit breaker, cache.

Their settings, the algorithms every state backend applies, and the backends themselves
(in memory, SQLite, Redis). Knows no vendor: keys come from the integration.
"""
