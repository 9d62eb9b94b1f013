"""buergerid verifier."""
