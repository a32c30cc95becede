"""A sandbox bank, broker, biller, CRM and SMS gateway in one SQLite file, seeded with demo customers."""
from adapters.sandbox.backend import SandboxBackend

__all__ = ["SandboxBackend"]
