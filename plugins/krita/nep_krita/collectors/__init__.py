"""Where krita sessions come from: the Krita plugin's logs (``krita``), Quick, Draw! files (``quickdraw``), procedural drawings (``synthetic``)."""
