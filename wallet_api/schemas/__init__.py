"""Pydantic request and response models of the wallet API."""
