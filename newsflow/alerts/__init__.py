"""Growth alerts: detect topics that take off, notify once, resolve when growth ends."""
