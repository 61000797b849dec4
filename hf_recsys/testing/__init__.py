"""Test utilities shipped with the package (a loopback Hub server)."""
