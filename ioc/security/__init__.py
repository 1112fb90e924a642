"""Who may do what: passwords, users, web sessions, API tokens, the audit log, rate limits.

Every module here takes a psycopg connection (or nothing: the pure decisions) and never
opens one itself; the web app, the CLI and the API pass theirs in.
"""
