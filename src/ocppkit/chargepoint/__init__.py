"""The stateful charge point stack: ocppkit owns the OCPP behaviour, the integrator wires the
hardware through events and callbacks (1.6 in ``ocppkit.chargepoint.v16``)."""
