"""buergerid wallet_api."""
