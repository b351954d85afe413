"""COA locations and the people who hold the key positions there."""
