"""Research: parameter searches, optimization, walk-forward analysis and distributed runs."""
