"""Command handlers."""
