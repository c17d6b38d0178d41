"""The command front ends (``python -m suite ...``): the top of the import graph; nothing imports them."""
