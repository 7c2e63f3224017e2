"""Transcribe's errors, generated from its botocore model (a code the model lacks fails at import)."""

from __future__ import annotations

from services.gateway.kit.errors import ServiceErrors

errors = ServiceErrors("transcribe")

BadRequest = errors.BadRequestException
NotFound = errors.NotFoundException
Conflict = errors.ConflictException
