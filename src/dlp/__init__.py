"""dlp: finds registered trade secrets in outbound content."""
__version__ = "0.1.0"
