"""Assemble the prompt context: the code around the cursor and retrieved snippets, in budget."""
