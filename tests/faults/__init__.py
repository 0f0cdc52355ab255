"""The fault-and-abuse suite (issue #18): fault injection with a real broker, store and hub,
fuzzing, the MQTT account × client-id matrix, header checks. Marked ``faults``."""
