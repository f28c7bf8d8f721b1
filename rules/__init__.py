"""Built-in allocfix rule files and data (installed as package data)."""
