"""buergerid mobile_sdk_stub."""
