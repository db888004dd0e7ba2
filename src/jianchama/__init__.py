"""Jianchama (检查码): enterprise-related administrative inspections and their supervision."""
