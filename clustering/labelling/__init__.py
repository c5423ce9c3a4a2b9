"""How a topic presents itself: keywords, named entities, label, representative headline."""
