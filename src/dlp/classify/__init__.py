"""The classifier tier: hashed features of keyed tokens, training, model files, inference."""
