"""buergerid keys."""
