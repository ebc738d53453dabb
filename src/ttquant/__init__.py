"""ttquant."""
