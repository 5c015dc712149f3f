"""The rule engine: rules as data, their text form, validation, evaluation and JSON Schema.

Knows no vendor: an integration hands it a field registry (what its answer holds) and the
answer itself, as a plain mapping.
"""
