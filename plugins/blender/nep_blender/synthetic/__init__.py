"""The blender domain's embedded default dataset: procedural modeling sessions run in real bpy."""
