"""Warehouse: stock, reservations (rules.py: allocation, packing), pick & pack, dispatch."""
