"""An example ttquant plugin: the ``ema_ribbon`` strategy and the ``ribbon_width`` indicator.

Nothing here is imported by ttquant directly: the package's entry points (see its
``pyproject.toml``) tell ttquant where to find both once the package is installed.
"""

__version__ = "0.1.0"
