"""Mandarin voice assistant for financial call centers."""
