"""The one settings class of fleethub."""

from config.settings import Settings

__all__ = ["Settings"]
