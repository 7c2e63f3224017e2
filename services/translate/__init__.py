"""Amazon Translate on Apertium (embedded default) and user-supplied neural MT models."""
