"""The same-story model: a calibrated probability that two sides tell one story, and its training."""
