"""The device contract v1 (docs/mqtt-contract.md): what tablets send and receive."""
