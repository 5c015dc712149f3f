"""The ``purecallerid`` command's implementation (the parser itself is ``purecallerid.cli``)."""
