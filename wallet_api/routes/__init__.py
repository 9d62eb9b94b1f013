"""Wallet API routes: parse, call one service function, map the result."""
