"""tree-sitter: parsers per language and what they tell us about the cursor."""
