"""Records: the schema and the run directory's store. Torch-free."""
