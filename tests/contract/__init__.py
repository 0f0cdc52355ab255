"""The device contract (docs/mqtt-contract.md), held to account by a client we did not write.

Tablets here are paho-mqtt clients (:mod:`tests.contract.tablet`), written from the
contract alone, against the real Mosquitto, hub and store. README.md maps each rule of
the contract to its tests.
"""
