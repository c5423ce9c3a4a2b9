"""Online assignment: each arriving article joins a topic or waits; the state rebuilt from a window."""
