"""NEP's krita domain: the next brush stroke (or layer, brush, colour, undo action) of a painter in Krita."""
