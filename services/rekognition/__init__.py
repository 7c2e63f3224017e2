"""Amazon Rekognition on open vision models."""
