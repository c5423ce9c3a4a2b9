"""Periodic re-clustering of the window: features, neighbour graph, HDBSCAN, linkage, story merging,
reconciliation with existing topics, the plan.
"""
