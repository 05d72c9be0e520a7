"""`wijkflow serve`: the web pages and the API, over the same services the CLI calls (issue 18).

`create_app(App)` (web/app.py) builds the ASGI app; the rest of this package is imported by it.
"""
