//! wallet-sim
