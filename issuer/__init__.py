"""buergerid issuer."""
