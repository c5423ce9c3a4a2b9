"""The analysts' web page: an overview of topics by growth and a page per topic, served by the API."""
