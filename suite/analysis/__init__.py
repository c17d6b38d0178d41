"""Tables, statistics, questions, the paper's numbers and run comparison, from records. Torch-free."""
