"""Logistics: carrier choice (rules.py), booking, tracking until delivery."""
