"""The code domain: the next code edit (location and content, a jump, or no edit) from recent edits."""

__version__ = "0.1.0"
