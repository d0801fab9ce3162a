// EESCrypto: under construction.
