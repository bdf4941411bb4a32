"""Reading export rows out of PostgreSQL: SQL building, chunk planning, CSV extraction."""
