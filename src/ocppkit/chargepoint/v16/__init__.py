"""The OCPP 1.6 charge point stack, one module per block."""
