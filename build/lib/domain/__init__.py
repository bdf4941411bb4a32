"""Pure domain logic: the catalogue, request validation, the job fold and its decisions."""
