"""The HTTP API (issue 13): JSON over twisted.web with Klein, served by `hotline serve`."""
