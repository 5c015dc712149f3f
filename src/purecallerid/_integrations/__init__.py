"""The integrations the library ships: PureCallerID, the suppression list, the calling window.

Each implements :class:`purecallerid.typing.Integration`; nothing below this package is
imported by the screener, the rules, the guards or the mapping (an import contract checked by
``make test``).
"""
