"""The HTTP API (FastAPI): the app's services for integrators. Routes only translate."""
