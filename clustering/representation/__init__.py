"""The representation every stage shares: text normalisation, dense + sparse rows, corpus frequencies."""
