"""The REST API (FastAPI) analysts and the web page use: topics, search, alerts, silences, health."""
