"""One router per resource; every path is under ``/api/v1`` except ``/metrics``."""
