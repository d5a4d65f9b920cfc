"""The ``nep`` command line."""
