"""The package version, in the ground floor so every layer can read it."""
__version__ = "0.1.0"
