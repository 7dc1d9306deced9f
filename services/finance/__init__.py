"""Finance: credit review (rules.py), invoicing and payments."""
