"""Amazon Comprehend on open models."""
