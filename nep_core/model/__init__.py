"""The model: a Hugging Face causal LM built from a preset, or a local pretrained one."""
