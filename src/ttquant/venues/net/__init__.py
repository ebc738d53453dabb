"""Network plumbing shared by every live adapter: reconnecting WebSockets, REST, rate limits."""
