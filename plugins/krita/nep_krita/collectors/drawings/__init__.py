"""Procedural drawing families for the ``synthetic`` collector: each draws one pass onto a ``Painter``."""
