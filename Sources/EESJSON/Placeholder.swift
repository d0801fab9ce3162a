// EESJSON: under construction.
