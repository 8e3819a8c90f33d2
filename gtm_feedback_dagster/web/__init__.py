"""The request pages (server-rendered HTML in the intake service): see routes.py and auth.py."""
