"""Wallet services: plain functions over a Session and a time value; no FastAPI imports."""
