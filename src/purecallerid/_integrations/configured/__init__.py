"""HTTP vendors from settings alone (``kind = "http"``) and the vendor presets built on it."""
