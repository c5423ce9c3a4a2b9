"""``newsflow eval``: labelled streams replayed through the clustering, and their scores."""
