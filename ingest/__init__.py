"""Ingest: MQTT messages validated into typed records, stored in PostgreSQL and Redis."""
