"""The ground floor for measurements: the bench request/result protocol, statistics, schemas
and the one validator of benchmark settings. Imports no stage."""
