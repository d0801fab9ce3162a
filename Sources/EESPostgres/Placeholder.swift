// EESPostgres: under construction.
