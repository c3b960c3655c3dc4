"""The git storage: ``GitRepository`` (configuration, credentials, pull step) and the engine that
pulls it with git."""

from .repository import GIT_CLONE_STEP, GitRepository, default_name

__all__ = ["GIT_CLONE_STEP", "GitRepository", "default_name"]
