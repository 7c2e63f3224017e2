"""Amazon Polly on open TTS engines: Piper (neural), espeak-ng (standard)."""
