"""Where blender sessions come from besides the synthetic generator: the add-on's logs and scripts."""
