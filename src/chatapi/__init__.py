"""chatapi: a self-hosted real-time chat service."""

__version__ = "0.1.0"
