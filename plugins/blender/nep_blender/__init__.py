"""NEP's Blender domain: predict the next operator call, and the add-on that suggests it in Blender."""

__version__ = "0.1.0"
