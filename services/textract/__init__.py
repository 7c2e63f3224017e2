"""Amazon Textract on open OCR, PDF and layout engines (see provider.py for the operations)."""
