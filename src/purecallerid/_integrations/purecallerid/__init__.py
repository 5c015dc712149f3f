"""PureCallerID: its models, wire dialects, client, transport, retry policy and integration."""
