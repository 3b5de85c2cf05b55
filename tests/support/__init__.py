"""Helpers shared by the integration and fault-injection tiers."""
