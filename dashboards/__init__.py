"""The Dash web app: operations pages, wall display, and the HTTP API."""
