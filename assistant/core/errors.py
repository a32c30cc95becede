"""The assistant's own kinds of `UserError` (domain/errors.py): one clear line for the user."""
from __future__ import annotations

from domain.errors import UserError


class AssistantError(UserError):
    """A problem the user can act on: bad input, a missing model, a refused request."""


class AudioFormatError(AssistantError):
    """Audio that is not PCM WAV, is truncated or empty, or has an unsupported rate."""


class ModelNotFoundError(AssistantError):
    """A model that is neither configured, staged in ../shared/models, nor downloadable."""
