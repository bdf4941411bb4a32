"""Commands, job events and the completion notice, with their Avro encoding."""
