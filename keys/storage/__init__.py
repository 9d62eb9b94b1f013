"""Storage backends behind one signer interface."""
