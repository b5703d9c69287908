//! Robustness tests: ipc (see main.rs).
