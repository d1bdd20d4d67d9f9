"""Insurers, their deals and price lists, and the orders a served consultation creates."""
