"""What the export service and its callers agree on: the export request, the commands and
events with their Avro schemas (and every recorded version), the codec, and job ids."""
