"""Procurement: purchase orders to suppliers (rules.py: supplier choice)."""
