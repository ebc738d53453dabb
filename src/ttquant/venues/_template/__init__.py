"""The starting point for a new exchange adapter: copy this package and fill it in.

See ``docs/adapters.md`` for the steps and the compliance list the new adapter must pass.
"""

from ttquant.venues._template.adapter import TemplateAdapter, TemplateConfig

__all__ = ["TemplateAdapter", "TemplateConfig"]
